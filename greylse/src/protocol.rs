//! The Postfix SMTP access policy delegation protocol (SMTPD_POLICY_README):
//! a request is `name=value` lines ended by an empty line; the answer is
//! `action=...` and an empty line; many requests per connection.
//!
//! Reading is bounded: a line longer than `max_line`, more than
//! `max_attributes` lines or a request larger than `max_request` bytes is an
//! error (the connection is closed), so a hostile client holds at most
//! `max_request` bytes of memory. Bytes that are not UTF-8 are kept as U+FFFD.
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("connection closed")]
    Closed,
    #[error("connection closed in the middle of a request")]
    Truncated,
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("request with more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("request larger than {0} bytes")]
    TooLarge(usize),
    #[error("line without '=': not the policy protocol")]
    Malformed,
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("request not complete within {0:?}")]
    Slow(Duration),
    #[error("read: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_line: usize,
    pub max_attributes: usize,
    pub max_request: usize,
    /// Wait at most this long for the first byte of a request.
    pub idle: Duration,
    /// A started request must be complete within this time (slowloris).
    pub request: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 2048,
            max_attributes: 64,
            max_request: 16 * 1024,
            idle: Duration::from_secs(300),
            request: Duration::from_secs(10),
        }
    }
}

/// One policy request: its attributes in arrival order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request {
    pairs: Vec<(String, String)>,
}

impl Request {
    /// The value of attribute `name`, or "" (Postfix sends empty values too).
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Parse a complete request text (tests and benchmarks).
    pub fn from_text(text: &str) -> Request {
        Request {
            pairs: text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// Read the next request. `Err(Closed)` is the normal end of a connection.
pub async fn read_request<R: AsyncBufRead + Unpin>(
    r: &mut R,
    limits: &Limits,
) -> Result<Request, ReadError> {
    // The first byte may take as long as Postfix keeps the connection idle.
    match tokio::time::timeout(limits.idle, r.fill_buf()).await {
        Err(_) => return Err(ReadError::Idle(limits.idle)),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok([])) => return Err(ReadError::Closed),
        Ok(Ok(_)) => {}
    }
    match tokio::time::timeout(limits.request, read_body(r, limits)).await {
        Err(_) => Err(ReadError::Slow(limits.request)),
        Ok(res) => res,
    }
}

async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    limits: &Limits,
) -> Result<Request, ReadError> {
    let mut req = Request::default();
    let mut total = 0usize;
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        read_line(r, &mut line, limits.max_line).await?;
        total += line.len() + 1;
        if total > limits.max_request {
            return Err(ReadError::TooLarge(limits.max_request));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return Ok(req);
        }
        if req.pairs.len() == limits.max_attributes {
            return Err(ReadError::TooManyAttributes(limits.max_attributes));
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = text.split_once('=').ok_or(ReadError::Malformed)?;
        req.pairs.push((name.to_owned(), value.to_owned()));
    }
}

/// One line without its LF into `out`, at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(), ReadError> {
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(ReadError::Truncated);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if out.len() + take > max {
            return Err(ReadError::LineTooLong(max));
        }
        out.extend_from_slice(&buf[..take]);
        r.consume(take + usize::from(done));
        if done {
            return Ok(());
        }
    }
}

/// The answer for `action`, ready to write. Line breaks inside the action
/// (from a configured reply text) would end the answer early: they become spaces.
pub fn answer(action: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(action.len() + 9);
    out.extend_from_slice(b"action=");
    out.extend(
        action
            .bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn read_all(input: &[u8], limits: Limits) -> Vec<Result<Request, String>> {
        let mut r = BufReader::with_capacity(7, input); // tiny buffer: requests split across reads
        let mut out = Vec::new();
        loop {
            match read_request(&mut r, &limits).await {
                Err(ReadError::Closed) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
                Ok(req) => out.push(Ok(req)),
            }
        }
    }

    #[tokio::test]
    async fn several_requests_split_across_reads() {
        let got = read_all(
            b"request=smtpd_access_policy\nsender=a@x\n\nrequest=smtpd_access_policy\r\nrecipient=b@y\r\nodd=a=b\r\n\r\n",
            Limits::default(),
        )
        .await;
        assert_eq!(got.len(), 2);
        let (a, b) = (got[0].as_ref().unwrap(), got[1].as_ref().unwrap());
        assert_eq!(a.get("sender"), "a@x");
        assert_eq!(b.get("recipient"), "b@y");
        assert_eq!(b.get("odd"), "a=b", "only the first '=' separates");
        assert_eq!(b.get("missing"), "");
    }

    #[tokio::test]
    async fn hostile_input_is_bounded() {
        let long = [b"sender=".as_slice(), &[b'x'; 5000], b"\n\n"].concat();
        let got = read_all(&long, Limits::default()).await;
        assert_eq!(got, vec![Err("line longer than 2048 bytes".into())]);

        let many: Vec<u8> = (0..100)
            .flat_map(|i| format!("a{i}=1\n").into_bytes())
            .collect();
        let got = read_all(&many, Limits::default()).await;
        assert_eq!(
            got,
            vec![Err("request with more than 64 attributes".into())]
        );

        let big: Vec<u8> = (0..40)
            .flat_map(|i| format!("a{i}={}\n", "v".repeat(1000)).into_bytes())
            .collect();
        let got = read_all(&big, Limits::default()).await;
        assert_eq!(got, vec![Err("request larger than 16384 bytes".into())]);

        let got = read_all(b"GET / HTTP/1.0\n\n", Limits::default()).await;
        assert_eq!(
            got,
            vec![Err("line without '=': not the policy protocol".into())]
        );

        let got = read_all(b"sender=a@x\n", Limits::default()).await;
        assert_eq!(
            got,
            vec![Err("connection closed in the middle of a request".into())]
        );

        let got = read_all(b"sender=\xff\x00\xfe@x\n\n", Limits::default()).await;
        assert_eq!(
            got[0].as_ref().unwrap().get("sender"),
            "\u{fffd}\0\u{fffd}@x"
        );
    }

    #[test]
    fn answers_cannot_be_split() {
        assert_eq!(answer("DUNNO"), b"action=DUNNO\n\n");
        assert_eq!(answer("REJECT a\nb"), b"action=REJECT a b\n\n");
    }
}
