//! The web UI for the tests: else-wui on a free loopback port in front of a
//! test cluster, people as password roles, a headless Chromium driven
//! through chromedriver (WebDriver), and a plain HTTP client for what a
//! browser would not send (a forged form, a stale cookie).
use crate::pg::Cluster;
use crate::sys::{free_port, require, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The authenticator role the web UI logs in as.
pub const AUTHENTICATOR: &str = "else_web";

/// The program: `ELSE_WUI_BIN`, else the release build.
pub fn binary() -> PathBuf {
    crate::sys::workspace_binary("ELSE_WUI_BIN", "else-wui")
}

pub struct Wui {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Wui {
    /// Create the authenticator and `people` (name, password, NOLOGIN role
    /// granted), let the web UI act as them, require their passwords on the
    /// socket (the test cluster trusts everyone else), then start the server.
    pub fn start(cluster: &Cluster, people: &[(&str, &str, &str)]) -> Wui {
        Self::start_with(cluster, people, "")
    }

    /// [`Wui::start`] with more lines for the `[listen]` section (TLS).
    pub fn start_with(cluster: &Cluster, people: &[(&str, &str, &str)], listen: &str) -> Wui {
        let mut db = cluster.connect();
        db.batch_execute(&format!("CREATE ROLE {AUTHENTICATOR} LOGIN NOINHERIT"))
            .unwrap();
        for (name, password, role) in people {
            db.execute(
                &format!("CREATE ROLE {name} LOGIN IN ROLE {role} PASSWORD '{password}'"),
                &[],
            )
            .unwrap();
            db.batch_execute(&format!("GRANT {name} TO {AUTHENTICATOR}"))
                .unwrap();
        }
        let names: Vec<&str> = people.iter().map(|p| p.0).collect();
        cluster.hba(&[&format!("local all {} scram-sha-256", names.join(","))]);
        let dir = crate::sys::shared_tempdir("else-wui-");
        let port = free_port();
        let conf = format!(
            "[listen]\naddress = \"127.0.0.1:{port}\"\n{listen}\n[database]\nconninfo = \"{}\"\nlogin = \"host={} port={} dbname=postgres\"\nconnections = 4\n",
            cluster.dsn_for(AUTHENTICATOR),
            cluster.socket_dir().display(),
            cluster.port
        );
        let path = dir.path().join("wui.toml");
        std::fs::write(&path, conf).unwrap();
        let child = crate::sys::spawn_daemon(&binary(), &path, dir.path());
        let w = Wui { dir, port, child };
        crate::sys::wait_listening("else-wui to listen", port);
        w
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// GET with a session cookie.
    pub fn get_as(&self, session: &str, path: &str) -> (u16, String, String) {
        self.request(
            "GET",
            path,
            &[("Cookie", &format!("else_session={session}"))],
            "",
        )
    }

    /// One HTTP/1.1 request; returns (status, headers, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, head.to_owned(), body.to_owned())
    }
}

impl Drop for Wui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free loopback port, killed on drop.
pub struct Driver {
    child: Child,
    pub port: u16,
}

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

impl Driver {
    pub fn start() -> Driver {
        require(CHROMEDRIVER, "chromium-driver");
        require(CHROMIUM, "chromium");
        let port = free_port();
        // Its own process group: chromium's processes are killed with it.
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        wait_for("chromedriver to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Driver { child, port }
    }

    /// A headless Chromium session (no sandbox: the tests run as root).
    pub async fn browser(&self) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-US"]
            }),
        );
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with headless chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: signalling the process group we created.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
