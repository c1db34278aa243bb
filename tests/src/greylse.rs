//! A private GreyLSE daemon for the tests: its own TOML file, a free
//! loopback port, its decision lines captured on a datagram socket the test
//! reads (or sent to a forwarder's socket), killed on drop.
use crate::pg::Cluster;
use crate::sys::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The login role the daemon uses (member of greylse_daemon).
pub const DAEMON_ROLE: &str = "greylse_test";

/// The program: `ELSE_GREYLSE_BIN`, else the release build.
pub fn binary() -> PathBuf {
    crate::sys::workspace_binary("ELSE_GREYLSE_BIN", "greylse")
}

pub struct Greylse {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    /// Decision lines received so far, when the test reads them itself
    /// (a thread drains the socket, so the daemon never finds it full).
    log: Option<Arc<Mutex<Vec<String>>>>,
}

impl Greylse {
    /// Create the daemon's role in `cluster` (once per cluster).
    pub fn create_role(cluster: &Cluster) {
        cluster
            .connect()
            .batch_execute(&format!(
                "CREATE ROLE {DAEMON_ROLE} LOGIN IN ROLE greylse_daemon"
            ))
            .unwrap();
    }

    /// Start with `extra` TOML appended to a test configuration (sections
    /// given in `extra` must not repeat the ones written here: [listen],
    /// [database], [log]). `log_socket`: None to capture decision lines here.
    pub fn start(cluster: &Cluster, extra: &str, log_socket: Option<&Path>) -> Greylse {
        let db = format!(
            "conninfo = \"{}\"\nconnections = 2\n",
            cluster.dsn_for(DAEMON_ROLE)
        );
        Self::start_with_db(&db, extra, log_socket)
    }

    /// [`Greylse::start`] with the lines of its `[database]` section given.
    pub fn start_with_db(database: &str, extra: &str, log_socket: Option<&Path>) -> Greylse {
        let dir = crate::sys::shared_tempdir("else-greylse-");
        let port = free_port();
        let (log, log_path) = match log_socket {
            Some(p) => (None, p.to_path_buf()),
            None => {
                let p = dir.path().join("log.sock");
                let s = UnixDatagram::bind(&p).unwrap();
                let lines = Arc::new(Mutex::new(Vec::new()));
                let sink = lines.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = s.recv(&mut buf) {
                        let l = String::from_utf8_lossy(&buf[..n]).into_owned();
                        sink.lock().unwrap().push(l);
                    }
                });
                (Some(lines), p)
            }
        };
        let conf = format!(
            "[listen]\ntcp = [\"127.0.0.1:{port}\"]\nunix = \"{}\"\nrequest_timeout_s = 2\nidle_timeout_s = 8\nmax_connections = 1000\n\
             [database]\n{database}\
             [log]\nsocket = \"{}\"\ninstance = \"gw-test\"\nbudget_ms = 1500\n{extra}\n",
            dir.path().join("policy.sock").display(),
            log_path.display()
        );
        let path = dir.path().join("greylse.toml");
        std::fs::write(&path, conf).unwrap();
        let child = crate::sys::spawn_daemon(&binary(), &path, dir.path());
        let g = Greylse {
            dir,
            port,
            child,
            log,
        };
        crate::sys::wait_listening("greylse to listen", port);
        g
    }

    /// The daemon's UNIX socket.
    pub fn unix_socket(&self) -> PathBuf {
        self.dir.path().join("policy.sock")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// The decision and daemon lines logged since the last call (after a
    /// short pause, so that lines of answers already read have arrived).
    pub fn log_lines(&self) -> Vec<String> {
        let Some(lines) = &self.log else {
            return Vec::new();
        };
        std::thread::sleep(Duration::from_millis(100));
        std::mem::take(&mut *lines.lock().unwrap())
    }
}

impl Drop for Greylse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Postfix-like policy client on one connection.
pub struct PolicyClient {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl PolicyClient {
    pub fn connect(port: u16) -> PolicyClient {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        PolicyClient {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    /// Send raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Read one answer: its `action=` value (None if the server closed).
    pub fn answer(&mut self) -> Option<String> {
        let mut action = None;
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).ok()? == 0 {
                return None;
            }
            let l = l.trim_end_matches('\n');
            if l.is_empty() {
                return action;
            }
            if let Some(a) = l.strip_prefix("action=") {
                action = Some(a.to_owned());
            }
        }
    }

    /// A RCPT-stage request, answered.
    pub fn ask(&mut self, client: &str, sender: &str, rcpt: &str) -> String {
        self.send_raw(request(client, sender, rcpt).as_bytes());
        self.answer().expect("an answer")
    }

    /// True when the server closed the connection (reads EOF).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// The attributes Postfix 3.7 sends at RCPT TO. Each request gets its own
/// `instance` (Postfix's per-transaction id), so no two share an SPF answer.
pub fn request(client: &str, sender: &str, rcpt: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let instance = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n\
         client_address={client}\nclient_name=mx.{}\nreverse_client_name=mx.example\n\
         helo_name=mx.example\nsender={sender}\nrecipient={rcpt}\nrecipient_count=0\n\
         queue_id=\ninstance=inst.{instance}\nsize=0\netrn_domain=\nstress=\nsasl_method=\n\
         sasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n\
         encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n\
         policy_context=\nserver_address=127.0.0.1\nserver_port=25\n\n",
        sender.rsplit('@').next().unwrap_or("x"),
    )
}
