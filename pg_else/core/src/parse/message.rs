//! Dispatch of a message body to the parser of its program. STUB: the parser issue
//! replaces this.
use super::Event;

/// Parse the message body logged by `program` (`postfix/smtpd`, `amavis`, ...).
pub fn parse_message<'a>(_program: &str, _message: &'a str) -> Event<'a> {
    Event::other()
}
