//! Printing an [`Event`] back as the Postfix message body it came from, for the
//! kinds whose lines are fully described by their fields (delivery, queued,
//! client, message-id, removed, expired, pickup, connect, notification). Used by
//! round-trip tests and handy for synthetic logs; other kinds print nothing.
use super::{Event, Kind};
use std::fmt;

impl fmt::Display for Event<'_> {
    /// ```
    /// use maillog_core::parse::parse_message;
    /// let m = "3F1A2B4C5D: to=<b@y>, relay=local, delay=0.5, delays=0/0/0/0.5, dsn=2.0.0, status=sent (delivered to mailbox)";
    /// assert_eq!(parse_message("postfix/local", m).to_string(), m);
    /// ```
    fn fmt(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = &self.fields;
        let qid = self.queue_id.unwrap_or("NOQUEUE");
        match self.kind {
            Kind::Delivery => {
                write!(w, "{qid}: to=<{}>", f.recipient.unwrap_or(""))?;
                if let Some(v) = f.orig_recipient {
                    write!(w, ", orig_to=<{v}>")?;
                }
                if let Some(v) = f.relay {
                    write!(w, ", relay={v}")?;
                }
                if let Some(v) = f.delay {
                    write!(w, ", delay={v}")?;
                }
                if let Some(v) = f.delays {
                    write!(w, ", delays={v}")?;
                }
                if let Some(v) = f.dsn {
                    write!(w, ", dsn={v}")?;
                }
                if let Some(v) = f.status {
                    write!(w, ", status={v}")?;
                }
                if let Some(v) = f.response {
                    write!(w, " ({v})")?;
                }
                Ok(())
            }
            Kind::Queued => {
                write!(w, "{qid}: from=<{}>", f.sender.unwrap_or(""))?;
                if let Some(v) = f.size {
                    write!(w, ", size={v}")?;
                }
                if let Some(v) = f.nrcpt {
                    write!(w, ", nrcpt={v}")?;
                }
                write!(w, " (queue active)")
            }
            Kind::Expired => write!(
                w,
                "{qid}: from=<{}>, status=expired, returned to sender",
                f.sender.unwrap_or("")
            ),
            Kind::Client => {
                write!(
                    w,
                    "{qid}: client={}[{}]",
                    f.client_name.unwrap_or("unknown"),
                    f.client_ip.unwrap_or("")
                )?;
                if let Some(v) = f.sasl_method {
                    write!(w, ", sasl_method={v}")?;
                }
                if let Some(v) = f.sasl_username {
                    write!(w, ", sasl_username={v}")?;
                }
                Ok(())
            }
            Kind::Connect => {
                write!(
                    w,
                    "connect from {}[{}]",
                    f.client_name.unwrap_or("unknown"),
                    f.client_ip.unwrap_or("")
                )
            }
            Kind::MessageId => write!(w, "{qid}: message-id=<{}>", f.message_id.unwrap_or("")),
            Kind::Removed => write!(w, "{qid}: removed"),
            Kind::Pickup => write!(w, "{qid}: uid=0 from=<{}>", f.sender.unwrap_or("")),
            Kind::Notification => {
                write!(
                    w,
                    "{qid}: {} notification: {}",
                    f.action.unwrap_or("sender"),
                    f.next_queue_id.unwrap_or("")
                )
            }
            _ => Ok(()),
        }
    }
}
