//! else-replay: send a log file (or stdin) to a syslog TCP listener, one RFC 3164
//! frame per line (`<22>` = mail.info), newline-framed as rsyslog's imtcp expects.
//! Usage: else-replay HOST:PORT [FILE]
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args.get(1) else {
        eprintln!("usage: else-replay HOST:PORT [FILE]");
        std::process::exit(2);
    };
    let input: Box<dyn BufRead> = match args.get(2) {
        Some(f) => Box::new(BufReader::new(
            std::fs::File::open(f).unwrap_or_else(|e| panic!("{f}: {e}")),
        )),
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    let sock = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut out = BufWriter::with_capacity(1 << 16, sock);
    let mut n = 0u64;
    for line in input.split(b'\n') {
        let line = line.expect("read input");
        out.write_all(b"<22>")
            .and_then(|_| out.write_all(&line))
            .and_then(|_| out.write_all(b"\n"))
            .expect("send");
        n += 1;
    }
    out.flush().expect("send");
    eprintln!("else-replay: sent {n} lines to {addr}");
}
