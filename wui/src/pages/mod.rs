//! One module per page. Pages are rendered on the server with maud, which
//! escapes every value: text from a log line is always shown as text.
pub mod admin;
pub mod greylse;
pub mod history;
pub mod journey;
pub mod layout;
pub mod login;
pub mod search;
pub mod stats;
pub mod timerange;
