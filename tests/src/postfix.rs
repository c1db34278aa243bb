//! Private Postfix instances and smtp-sink servers for end-to-end tests.
//!
//! Each instance has its own config_directory, queue_directory and
//! data_directory in a temporary folder, listens only on 127.0.0.1 ports,
//! logs to its own `maillog_file` through postlogd (never /dev/log) and is
//! stopped on drop (`postfix stop`, then `postfix abort`, then SIGKILL of the
//! master PID). smtp-sink processes are killed by PID on drop.
use crate::sys::{free_port, require, run, wait_for};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const POSTFIX: &str = "/usr/sbin/postfix";
pub const SENDMAIL: &str = "/usr/sbin/sendmail";
pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// master.cf services every instance needs: no chroot (the queue folder is
/// not prepared as a chroot jail), postlogd for `maillog_file`.
const MASTER_BASE: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

pub struct Postfix {
    pub dir: tempfile::TempDir,
    /// `myhostname`; log lines carry its first label.
    pub hostname: String,
    /// The smtpd port on 127.0.0.1.
    pub port: u16,
    running: bool,
}

impl Postfix {
    /// Prepare an instance: `main_extra` is appended to main.cf, and
    /// `master_extra` to master.cf (after the smtpd on `port`). `files` are
    /// written into the config folder (tables such as `transport`); in
    /// both texts `{conf}` and `{dir}` stand for the config folder and the
    /// instance's folder.
    pub fn new(
        hostname: &str,
        main_extra: &str,
        master_extra: &str,
        files: &[(&str, &str)],
    ) -> Postfix {
        require(POSTFIX, "postfix");
        assert!(
            crate::sys::is_root(),
            "Postfix instances need root (queue folders owned by root, mail_owner postfix): run the tests as root"
        );
        // Postfix daemons (user postfix) must reach the queue and data folders.
        let dir = crate::sys::shared_tempdir("else-postfix-");
        let port = free_port();
        let d = dir.path();
        for sub in ["conf", "queue", "data"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        run(Command::new("chown").arg("postfix").arg(d.join("data")));
        let conf = d.join("conf");
        let subst = |s: &str| {
            s.replace("{conf}", &conf.display().to_string())
                .replace("{dir}", &d.display().to_string())
        };
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = {hostname}\n\
             mydomain = test\n\
             myorigin = $myhostname\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mydestination =\n\
             local_recipient_maps =\n\
             alias_maps =\n\
             alias_database =\n\
             maillog_file = {log}\n\
             maillog_file_prefixes = {prefix}\n\
             smtpd_banner = $myhostname ESMTP\n\
             biff = no\n\
             append_dot_mydomain = no\n\
             smtputf8_enable = no\n\
             smtp_tls_security_level = none\n\
             smtpd_tls_security_level = none\n\
             smtp_connect_timeout = 2s\n\
             smtp_helo_timeout = 10s\n\
             disable_dns_lookups = yes\n\
             smtp_dns_support_level = disabled\n\
             queue_run_delay = 300s\n\
             minimal_backoff_time = 300s\n\
             maximal_backoff_time = 600s\n",
            queue = d.join("queue").display(),
            data = d.join("data").display(),
            log = d.join("maillog").display(),
            prefix = d.display(),
        );
        std::fs::write(conf.join("main.cf"), merge_main(&main, &subst(main_extra))).unwrap();
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n{MASTER_BASE}{}\n",
            subst(master_extra)
        );
        std::fs::write(conf.join("master.cf"), master).unwrap();
        for (name, text) in files {
            std::fs::write(conf.join(name), subst(text)).unwrap();
        }
        // postlogd appends; the file exists from the start so that a reader
        // can follow it before the first line.
        std::fs::write(d.join("maillog"), "").unwrap();
        Postfix {
            dir,
            hostname: hostname.to_owned(),
            port,
            running: false,
        }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    pub fn maillog(&self) -> PathBuf {
        self.dir.path().join("maillog")
    }

    fn postfix(&self, verb: &str) -> Command {
        let mut c = Command::new(POSTFIX);
        c.arg("-c").arg(self.conf()).arg(verb);
        c
    }

    /// `postfix check` (creates missing queue folders) and `postfix start`;
    /// waits until smtpd answers its banner.
    pub fn start(&mut self) {
        run(&mut self.postfix("check"));
        run(&mut self.postfix("start"));
        self.running = true;
        let port = self.port;
        wait_for(
            &format!("{} smtpd banner", self.hostname),
            Duration::from_secs(60),
            || {
                TcpStream::connect(("127.0.0.1", port))
                    .ok()
                    .and_then(|s| {
                        // Bounded: a socket connected to itself (source port
                        // == port, possible while nothing listens) never answers.
                        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                        let mut l = String::new();
                        BufReader::new(s).read_line(&mut l).ok()?;
                        Some(l.starts_with("220"))
                    })
                    .unwrap_or(false)
            },
        );
    }

    fn master_pid(&self) -> Option<i32> {
        let s = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        let pid: i32 = s.trim().parse().ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    }

    /// `postfix stop` and wait until the master process is gone; bounded
    /// (`postfix abort`, then SIGKILL), as a stuck instance must not hang the
    /// test that stops it.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let pid = self.master_pid();
        run_bounded(&mut self.postfix("stop"), Duration::from_secs(30));
        for _ in 0..300 {
            if pid.is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run_bounded(&mut self.postfix("abort"), Duration::from_secs(10));
        if let Some(p) = pid {
            // SAFETY: killing the master of our own instance by PID.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }

    /// Local submission: `sendmail -C <conf> -f from to...` (pickup).
    pub fn sendmail(&self, from: &str, to: &[&str], message: &str) {
        let mut child = Command::new(SENDMAIL)
            .arg("-C")
            .arg(self.conf())
            .arg("-f")
            .arg(from)
            .args(to)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sendmail");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(message.as_bytes())
            .unwrap();
        let out = crate::sys::output_within(child, Duration::from_secs(60)).unwrap_or_else(|| {
            panic!(
                "sendmail did not finish in 60 s:\n{}",
                self.log_lines().join("\n")
            )
        });
        assert!(
            out.status.success(),
            "sendmail failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Lines postlogd wrote so far.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.maillog())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// main.cf text with `extra`'s settings replacing the base's. A key set
/// twice makes every Postfix program warn "overriding earlier entry" when it
/// reads main.cf, postlogd included: with the kernel's default of 10
/// datagrams queued per socket, postlogd can then block sending its own
/// warnings to the socket only it reads, and the instance (and any
/// `postfix stop`) hangs for ever.
pub fn merge_main(base: &str, extra: &str) -> String {
    let key = |l: &str| l.split_once('=').map(|(k, _)| k.trim().to_owned());
    let extra_keys: Vec<String> = extra.lines().filter_map(key).collect();
    let mut out: String = base
        .lines()
        .filter(|l| key(l).is_none_or(|k| !extra_keys.contains(&k)))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(extra);
    out.push('\n');
    out
}

/// Run a command to its end, or kill it after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) {
    if let Ok(child) = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        crate::sys::output_within(child, limit);
    }
}

/// `smtp-sink` on a loopback port, killed by PID on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
}

impl SmtpSink {
    /// `args` are smtp-sink options, e.g. `["-f", "rcpt"]` to answer RCPT
    /// with a soft (4xx) error or `["-r", "rcpt"]` with a hard (5xx) one.
    pub fn start(args: &[&str]) -> SmtpSink {
        require(SMTP_SINK, "postfix");
        let port = free_port();
        let child = Command::new(SMTP_SINK)
            .args(["-u", "nobody"])
            .args(args)
            .arg(format!("127.0.0.1:{port}"))
            .arg("20")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        wait_for("smtp-sink to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        SmtpSink { child, port }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SMTP session as an outside client: returns each RCPT's reply line and
/// the final DATA reply (None when no recipient was accepted).
pub fn smtp_send(
    port: u16,
    from: &str,
    rcpts: &[&str],
    message: &str,
) -> (Vec<String>, Option<String>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to smtpd");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("SMTP reply");
        assert!(l.len() >= 4, "short SMTP reply {l:?}");
        if l.as_bytes()[3] == b' ' {
            return l.trim_end().to_owned();
        }
    };
    let cmd = |w: &mut TcpStream, c: &str| {
        w.write_all(c.as_bytes()).unwrap();
        w.write_all(b"\r\n").unwrap();
    };
    assert!(reply().starts_with("220"));
    cmd(&mut w, "EHLO client.outside.test");
    assert!(reply().starts_with("250"));
    cmd(&mut w, &format!("MAIL FROM:<{from}>"));
    assert!(reply().starts_with("250"));
    let mut answers = Vec::new();
    for rc in rcpts {
        cmd(&mut w, &format!("RCPT TO:<{rc}>"));
        answers.push(reply());
    }
    let mut data = None;
    if answers.iter().any(|a| a.starts_with("250")) {
        cmd(&mut w, "DATA");
        assert!(reply().starts_with("354"));
        let mut body = String::new();
        for l in message.lines() {
            if l.starts_with('.') {
                body.push('.');
            }
            body.push_str(l);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        w.write_all(body.as_bytes()).unwrap();
        data = Some(reply());
    }
    cmd(&mut w, "QUIT");
    let _ = reply();
    (answers, data)
}

/// A stand-in for a Microsoft Exchange receive connector: accepts every
/// message and answers DATA the way Exchange does,
/// `250 2.6.0 <message-id> [InternalId=N, Hostname=EXCH1] Queued mail for delivery`,
/// numbering internal IDs from `first_internal_id`. Records (Message-ID,
/// internal ID, sender, recipients) of each message. Stopped on drop.
pub struct ExchangeSmtp {
    pub port: u16,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<ExchangeMessage>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Clone)]
pub struct ExchangeMessage {
    pub message_id: String,
    pub internal_id: u64,
    pub sender: String,
    pub recipients: Vec<String>,
    pub size: usize,
}

impl ExchangeSmtp {
    pub fn start(first_internal_id: u64) -> ExchangeSmtp {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rx, st) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut next = first_internal_id;
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                if let Some(m) = exchange_session(conn, &mut next) {
                    rx.lock().unwrap().extend(m);
                }
            }
        });
        ExchangeSmtp {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }
}

fn exchange_session(conn: TcpStream, next: &mut u64) -> Option<Vec<ExchangeMessage>> {
    let mut w = conn.try_clone().ok()?;
    let mut r = BufReader::new(conn);
    let mut out = Vec::new();
    let say = |w: &mut TcpStream, s: &str| w.write_all(format!("{s}\r\n").as_bytes());
    say(
        &mut w,
        "220 EXCH1.ex.example.org Microsoft ESMTP MAIL Service ready",
    )
    .ok()?;
    let (mut sender, mut rcpts) = (String::new(), Vec::new());
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return Some(out);
        }
        let cmd = l.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let addr = || {
            cmd.split_once('<')
                .and_then(|(_, a)| a.split_once('>'))
                .map(|(a, _)| a.to_owned())
                .unwrap_or_default()
        };
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say(&mut w, "250 EXCH1.ex.example.org Hello").ok()?;
        } else if upper.starts_with("MAIL FROM") {
            sender = addr();
            rcpts.clear();
            say(&mut w, "250 2.1.0 Sender OK").ok()?;
        } else if upper.starts_with("RCPT TO") {
            rcpts.push(addr());
            say(&mut w, "250 2.1.5 Recipient OK").ok()?;
        } else if upper == "DATA" {
            say(&mut w, "354 Start mail input; end with <CRLF>.<CRLF>").ok()?;
            let (mut msgid, mut size) = (String::new(), 0);
            loop {
                let mut d = String::new();
                if r.read_line(&mut d).ok()? == 0 {
                    return Some(out);
                }
                if d.trim_end() == "." {
                    break;
                }
                size += d.len();
                if msgid.is_empty() && d.to_ascii_lowercase().starts_with("message-id:") {
                    msgid = d[11..].trim().trim_matches(['<', '>']).to_owned();
                }
            }
            let id = *next;
            *next += 1;
            say(
                &mut w,
                &format!(
                    "250 2.6.0 <{msgid}> [InternalId={id}, Hostname=EXCH1.ex.example.org] Queued mail for delivery"
                ),
            )
            .ok()?;
            out.push(ExchangeMessage {
                message_id: msgid,
                internal_id: id,
                sender: sender.clone(),
                recipients: rcpts.clone(),
                size,
            });
        } else if upper == "QUIT" {
            say(&mut w, "221 2.0.0 Service closing transmission channel").ok()?;
            return Some(out);
        } else {
            say(&mut w, "250 2.0.0 OK").ok()?;
        }
    }
}

impl Drop for ExchangeSmtp {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn extra_settings_replace_the_base_ones() {
        let m = super::merge_main(
            "a = 1\nqueue_run_delay = 300s\nb = 2\n",
            "queue_run_delay = 2s\nc = 3",
        );
        assert_eq!(m, "a = 1\nb = 2\nqueue_run_delay = 2s\nc = 3\n");
    }
}
