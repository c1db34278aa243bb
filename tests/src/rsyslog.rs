//! A private rsyslogd for tests: foreground (`-n`), own config, own work
//! folder, own pidfile, loopback ports only, never /etc/rsyslog.conf or
//! /dev/log. Configurations read their settings from environment variables
//! through rsyslog backtick constants (`` `echo $ELSE_...` ``), so the shipped
//! files in rsyslog-conf/ run unchanged. Stopped by PID on drop.
use crate::sys::{free_port, require, wait_for};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// The omelse module to load: `$ELSE_OMELSE_SO` (scripts/test sets it to the
/// release build), else the workspace's release build, else its debug build.
pub fn omelse_so() -> String {
    if let Ok(p) = std::env::var("ELSE_OMELSE_SO") {
        return p;
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("libomelse.so");
        if p.exists() {
            return p.canonicalize().unwrap().display().to_string();
        }
    }
    panic!("omelse is not built: run `cargo build --release -p omelse` or set ELSE_OMELSE_SO=/path/libomelse.so")
}

/// The shipped configuration file `rsyslog-conf/<name>`.
pub fn shipped_conf(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rsyslog-conf")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// The test PKI, made once per test process with openssl: a CA, the
/// backend's certificate (name `else-backend`), a mail server's (name
/// `mx.else.test`), a database server's (`localhost`, for omelse's TLS test)
/// and a stranger's (self-signed, name `mx.else.test`).
pub fn test_pki() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("else-pki-")
            .tempdir()
            .unwrap()
            .keep();
        crate::sys::remove_at_exit(&dir);
        let ssl = |args: &[&str]| {
            crate::sys::run(Command::new("openssl").args(args).current_dir(&dir));
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        ssl(&[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3",
                "-subj",
                "/CN=ELSE test CA",
            ],
        ]
        .concat());
        for (n, name) in [
            ("backend", "else-backend"),
            ("mx", "mx.else.test"),
            ("pg", "localhost"),
        ] {
            ssl(&[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    &format!("{n}.key"),
                    "-out",
                    &format!("{n}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            ]
            .concat());
            std::fs::write(
                dir.join(format!("{n}.ext")),
                format!("subjectAltName=DNS:{name}\n"),
            )
            .unwrap();
            ssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{n}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{n}.crt"),
                "-days",
                "3",
                "-extfile",
                &format!("{n}.ext"),
            ]);
        }
        ssl(&[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "stranger.key",
                "-out",
                "stranger.crt",
                "-days",
                "3",
                "-subj",
                "/CN=mx.else.test",
            ],
        ]
        .concat());
        dir
    })
}

/// Environment for one rsyslogd: the ELSE_* variables the configs read.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub tcp_port: u16,
    pub relp_port: u16,
    pub env: Vec<(String, String)>,
}

impl Setup {
    /// Fresh work folder and ports; `conninfo` may be empty for configs
    /// that do not write to PostgreSQL.
    pub fn new(conninfo: &str) -> Setup {
        require(RSYSLOGD, "rsyslog");
        let dir = tempfile::Builder::new()
            .prefix("else-rsyslog-")
            .tempdir()
            .expect("tempdir");
        let (tcp_port, relp_port) = (free_port(), free_port());
        let p = |f: &str| dir.path().join(f).display().to_string();
        let env = vec![
            ("ELSE_OMELSE_SO".into(), omelse_so()),
            ("ELSE_CONNINFO".into(), conninfo.to_owned()),
            ("ELSE_TCP_PORT".into(), tcp_port.to_string()),
            ("ELSE_RELP_PORT".into(), relp_port.to_string()),
            ("ELSE_WORKDIR".into(), p("work")),
            ("ELSE_LOGFILE".into(), p("rsyslogd.log")),
            ("ELSE_ERRORFILE".into(), p("omelse-errors.json")),
            ("ELSE_LOG_SOCKET".into(), p("log.sock")),
            ("ELSE_STATSFILE".into(), p("impstats.log")),
            ("ELSE_RELP_TARGET".into(), "127.0.0.1".into()),
            ("ELSE_RELP_ADDRESS".into(), "127.0.0.1".into()),
        ];
        // RELP over TLS: by default the backend's identity (see as_forwarder).
        let pki = test_pki();
        let f = |n: &str| pki.join(n).display().to_string();
        let env = env
            .into_iter()
            .chain([
                ("ELSE_TLS_CA".into(), f("ca.crt")),
                ("ELSE_TLS_CERT".into(), f("backend.crt")),
                ("ELSE_TLS_KEY".into(), f("backend.key")),
                ("ELSE_TLS_PEERS".into(), "*.else.test".into()),
            ])
            .collect();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        Setup {
            dir,
            tcp_port,
            relp_port,
            env,
        }
    }

    /// A mail server's identity for RELP over TLS: its own certificate, and
    /// the backend's name to check.
    pub fn as_forwarder(&mut self) {
        let pki = test_pki();
        self.set("ELSE_TLS_CERT", &pki.join("mx.crt").display().to_string());
        self.set("ELSE_TLS_KEY", &pki.join("mx.key").display().to_string());
        self.set("ELSE_TLS_PEERS", "else-backend");
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    pub fn get(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Write a test-only configuration into the work folder.
    pub fn write_conf(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `rsyslogd -N1 -f conf`: the config check (exit status and output).
    pub fn check(&self, conf: &Path) -> Output {
        Command::new(RSYSLOGD)
            .arg("-N1")
            .arg("-f")
            .arg(conf)
            .envs(self.env.iter().cloned())
            .output()
            .unwrap()
    }

    /// rsyslogd's own log (internal messages routed by the config), if any.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.get("ELSE_LOGFILE")).unwrap_or_default()
    }

    /// rsyslogd's log and stderr (tails), for failure messages.
    pub fn diagnostics(&self) -> String {
        let tail = |s: String| {
            s.chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        };
        let stderr =
            std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default();
        format!(
            "--- rsyslogd log:\n{}\n--- rsyslogd stderr:\n{}",
            tail(self.log()),
            tail(stderr)
        )
    }

    pub fn errorfile(&self) -> String {
        std::fs::read_to_string(self.get("ELSE_ERRORFILE")).unwrap_or_default()
    }
}

pub struct Rsyslogd {
    child: Child,
    pub stderr: PathBuf,
}

impl Rsyslogd {
    /// Start in the foreground and wait until `ready_port` accepts TCP
    /// connections (or `ready_path` exists when the port is 0).
    pub fn start(
        setup: &Setup,
        conf: &Path,
        ready_port: u16,
        ready_path: Option<&Path>,
    ) -> Rsyslogd {
        let pidfile = setup
            .dir
            .path()
            .join(format!("rsyslogd-{}.pid", free_port()));
        let stderr = setup.dir.path().join("stderr.txt");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(conf)
            .arg("-i")
            .arg(&pidfile)
            .envs(setup.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(setup.dir.path().join("stdout.txt")).unwrap(),
            ))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&stderr)
                    .unwrap(),
            ))
            .spawn()
            .expect("start rsyslogd");
        let mut r = Rsyslogd { child, stderr };
        wait_for("rsyslogd to listen", Duration::from_secs(30), || {
            if let Ok(Some(st)) = r.child.try_wait() {
                panic!(
                    "rsyslogd exited at startup ({st}): {}",
                    std::fs::read_to_string(&r.stderr).unwrap_or_default()
                );
            }
            match ready_path {
                Some(p) => p.exists(),
                None => TcpStream::connect(("127.0.0.1", ready_port)).is_ok(),
            }
        });
        r
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by PID.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Peak resident memory (VmHWM, kB) of rsyslogd.
    pub fn vm_hwm_kb(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERM and wait (SIGKILL after 60 s).
    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        self.signal(libc::SIGTERM);
        for _ in 0..600 {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The ELSE backend as the admin's guide deploys it: the shipped
/// else-backend-relp.conf (imrelp -> omelse) writing to `conninfo`; ready when
/// its RELP port answers.
pub fn relp_backend(conninfo: &str) -> (Setup, Rsyslogd) {
    let s = Setup::new(conninfo);
    let r = Rsyslogd::start(
        &s,
        &shipped_conf("else-backend-relp.conf"),
        s.relp_port,
        None,
    );
    (s, r)
}

/// A mail server's forwarding rsyslogd with the shipped config `conf`,
/// sending over RELP to `relp_port`, with extra ELSE_* variables; ready when
/// `ready` exists (the file or socket it reads).
pub fn relp_forwarder(
    conf: &str,
    relp_port: u16,
    vars: &[(&str, &str)],
    ready: &Path,
) -> (Setup, Rsyslogd) {
    let mut s = Setup::new("");
    s.as_forwarder();
    s.set("ELSE_RELP_PORT", &relp_port.to_string());
    for (k, v) in vars {
        s.set(k, v);
    }
    let r = Rsyslogd::start(&s, &shipped_conf(conf), 0, Some(ready));
    (s, r)
}

/// Send syslog lines over TCP with octet-counted framing (RFC 6587), so
/// lines may contain LF and any other byte.
pub fn send_octet_counted(port: u16, lines: &[Vec<u8>]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to imtcp");
    let mut buf = Vec::new();
    for l in lines {
        buf.extend_from_slice(format!("{} ", l.len()).as_bytes());
        buf.extend_from_slice(l);
    }
    s.write_all(&buf).unwrap();
}

/// A TCP sender with LF framing, for plain numbered lines.
pub struct LineSender(std::io::BufWriter<TcpStream>);

impl LineSender {
    pub fn connect(port: u16) -> LineSender {
        LineSender(std::io::BufWriter::with_capacity(
            1 << 16,
            TcpStream::connect(("127.0.0.1", port)).unwrap(),
        ))
    }

    pub fn send(&mut self, line: &str) {
        self.0.write_all(line.as_bytes()).unwrap();
        self.0.write_all(b"\n").unwrap();
    }

    pub fn flush(&mut self) {
        self.0.flush().unwrap();
    }
}

/// A realistic numbered Postfix line (mail facility, severity info).
pub fn numbered_line(n: u64) -> String {
    format!(
        "<22>Nov 29 04:05:06 mx{} postfix/smtpd[{}]: {:010X}: client=relay.example.org[192.0.2.{}], seq={n}",
        n % 3,
        1000 + n % 50,
        n,
        n % 250
    )
}
