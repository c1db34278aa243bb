//! omelse
