//! `else-load`: load mail log files (plain or gzip) or standard input into
//! pg_else's `maillog.inbox`, byte for byte, as omelse would store them.
//! Needs only INSERT on the inbox (no superuser, no server-side file access).
use omelse::config::{ActionConfig, RawParams};
use omelse::db::conninfo_is_valid;
use omelse::load::{load, open, Reference};
use std::io::BufRead;
use std::process::ExitCode;

const USAGE: &str =
    "usage: else-load [-d CONNINFO] [--reference TIME|now] [--table NAME] [FILE|-]...

Loads each FILE (plain or gzip-compressed, recognised by content; `-` or no
FILE: standard input) into pg_else's maillog.inbox in one transaction per
file. Every byte is kept: invalid UTF-8 and NUL are stored as the text \\xNN,
exactly as omelse stores them. Loading the same file again stores nothing new.

  -d, --dbname CONNINFO  libpq connection string or URI (default: the PG*
                         environment variables and ~/.pgpass, as for psql)
  --reference TIME|now   read year-less syslog dates as at most a month after
                         TIME (default: the file's modification time;
                         standard input: now)
  --table NAME           target table (default maillog.inbox)
  -q, --quiet            no per-file summary";

struct Args {
    conninfo: String,
    reference: Option<Reference>,
    table: Option<String>,
    quiet: bool,
    inputs: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        conninfo: String::new(),
        reference: None,
        table: None,
        quiet: false,
        inputs: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "-d" | "--dbname" => a.conninfo = value(&arg)?,
            "--reference" => {
                a.reference = Some(match value(&arg)?.as_str() {
                    "now" => Reference::Now,
                    t => Reference::Text(t.to_owned()),
                })
            }
            "--table" => a.table = Some(value(&arg)?),
            "-q" | "--quiet" => a.quiet = true,
            "-" => a.inputs.push(arg),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => a.inputs.push(arg),
        }
    }
    if a.inputs.is_empty() {
        a.inputs.push("-".into());
    }
    Ok(a)
}

fn input(name: &str, given: &Option<Reference>) -> std::io::Result<(Box<dyn BufRead>, Reference)> {
    if name == "-" {
        let r = given.clone().unwrap_or(Reference::Now);
        return Ok((open(std::io::stdin())?, r));
    }
    let f = std::fs::File::open(name)?;
    let r = match given {
        Some(r) => r.clone(),
        None => Reference::of_mtime(f.metadata()?.modified()?),
    };
    Ok((open(f)?, r))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("else-load: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let raw = RawParams {
        conninfo: Some(args.conninfo.clone()),
        table: args.table.clone(),
        ..RawParams::default()
    };
    let config = match ActionConfig::from_raw(raw, conninfo_is_valid) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("else-load: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for name in &args.inputs {
        let shown = if name == "-" { "standard input" } else { name };
        let result = input(name, &args.reference)
            .map_err(omelse::load::LoadError::from)
            .and_then(|(mut r, reference)| load(&config, &reference, &mut r));
        match result {
            Ok((n, stored)) => {
                if n.unterminated {
                    eprintln!(
                        "else-load: {shown}: the last line has no line end (loaded as it is)"
                    );
                }
                if !args.quiet {
                    let stored = stored.map_or(String::new(), |s| {
                        format!(", {s} stored, {} already there", n.lines.saturating_sub(s))
                    });
                    eprintln!(
                        "else-load: {shown}: {} lines, {} bytes{stored}",
                        n.lines, n.bytes
                    );
                }
            }
            Err(e) => {
                eprintln!("else-load: {shown}: nothing loaded: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
