//! Correlation of parsed lines into message journeys (see issue: correlation).
