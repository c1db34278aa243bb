//! A private PostgreSQL 15 cluster: own data folder, own port number, no TCP
//! listener. Its socket is in a folder of mode 0700 owned by the cluster's OS
//! user (`postgres` when the tests run as root: initdb refuses root), so only
//! that user and root can reach it at all; inside, `trust` lets the tests log
//! in as any role they create (PostgreSQL 15's peer maps cannot name roles
//! by pattern). A test that wants TCP adds it with [`Cluster::hba`].
//! Stopped with `pg_ctl -m immediate` on drop.
use crate::sys::{chown_postgres, free_port, is_root, require, run, wait_for};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const PGBIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    running: bool,
}

fn pg_cmd(prog: &str) -> Command {
    let path = format!("{PGBIN}/{prog}");
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

impl Cluster {
    /// initdb + start, with `CREATE EXTENSION pg_else` in database `postgres`.
    pub fn start() -> Cluster {
        Self::start_with(&[])
    }

    /// initdb + start with extra `-c name=value` settings.
    pub fn start_with(settings: &[&str]) -> Cluster {
        let c = Self::start_plain(settings);
        let mut client = c.connect();
        client.batch_execute("CREATE EXTENSION pg_else").expect(
            "CREATE EXTENSION pg_else failed: is the extension installed (scripts/setup or scripts/test install it)?",
        );
        c
    }

    /// initdb + start without creating the extension (omelse raw-speed tests).
    pub fn start_plain(settings: &[&str]) -> Cluster {
        require(&format!("{PGBIN}/initdb"), "postgresql-15");
        // The postgres user must be able to reach the folder.
        let dir = crate::sys::shared_tempdir("else-pg-");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        chown_postgres(dir.path());
        let data = dir.path().join("data");
        run(pg_cmd("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=reject",
            "--locale=C.UTF-8",
            "-E",
            "UTF8",
            "--no-instructions",
        ]));
        let mut c = Cluster {
            dir,
            port: free_port(),
            running: false,
        };
        c.settings(settings);
        c.pg_start();
        c
    }

    /// A test's statement never waits for ever: a hang becomes an error
    /// (5 min, `statement_timeout = 0` in `extra` lifts it), and lock waits
    /// are logged. `extra` comes last, so it overrides.
    fn settings(&self, extra: &[&str]) {
        let mut conf = format!(
            "port = {}\nlisten_addresses = ''\nunix_socket_directories = '{}'\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\nshared_buffers = 256MB\nmax_connections = 50\n\
             statement_timeout = '5min'\nlog_lock_waits = on\n",
            self.port,
            self.socket_dir().display()
        );
        for s in extra {
            conf.push_str(s);
            conf.push('\n');
        }
        let path = self.data().join("postgresql.auto.conf");
        std::fs::write(&path, conf).unwrap();
        chown_postgres(&path);
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder holding the server's Unix socket (mode 0700).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// True when the connections of `application_name` exist and all use TLS.
    pub fn all_encrypted(&self, application_name: &str) -> bool {
        self.connect()
            .query_one(
                "SELECT coalesce(bool_and(s.ssl), false) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                  WHERE a.application_name = $1",
                &[&application_name],
            )
            .unwrap()
            .get(0)
    }

    /// Replace pg_hba.conf by these lines, then the local trust line (so a
    /// `local` line given here comes first), and reload.
    pub fn hba(&self, lines: &[&str]) {
        let path = self.data().join("pg_hba.conf");
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text.push_str("local all all trust\n");
        std::fs::write(&path, text).unwrap();
        chown_postgres(&path);
        self.connect()
            .batch_execute("SELECT pg_reload_conf()")
            .unwrap();
    }

    /// Superuser connection string (over the Unix socket).
    pub fn dsn(&self) -> String {
        self.dsn_for("postgres")
    }

    /// Connection string for `role` in database `postgres`.
    pub fn dsn_for(&self, role: &str) -> String {
        format!(
            "host={} port={} user={role} dbname=postgres",
            self.socket_dir().display(),
            self.port
        )
    }

    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.dsn(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to test cluster on port {}: {e}", self.port))
    }

    /// Start (again); waits until the server accepts connections.
    pub fn pg_start(&mut self) {
        let log = self.dir.path().join("server.log");
        run(pg_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "60", "start"]));
        self.running = true;
    }

    /// Stop in the given mode (`fast`, `immediate`); waits until it is down.
    pub fn pg_stop(&mut self, mode: &str) {
        run(pg_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "-t", "60", "stop"]));
        self.running = false;
    }

    /// Wait until a query succeeds (after a restart).
    pub fn wait_ready(&self) {
        wait_for(
            "PostgreSQL to accept connections",
            Duration::from_secs(60),
            || postgres::Client::connect(&self.dsn(), postgres::NoTls).is_ok(),
        );
    }

    /// The server log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = pg_cmd("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

/// A cluster that also listens on 127.0.0.1 with TLS (the test CA's
/// certificate for the name `localhost`) and takes only SCRAM over TLS there
/// (`hostssl`); the Unix socket stays as in [`Cluster`].
pub struct TlsCluster {
    pub cluster: Cluster,
    certs: tempfile::TempDir,
}

impl TlsCluster {
    pub fn start() -> TlsCluster {
        let certs = crate::sys::shared_tempdir("else-tls-");
        let pki = crate::rsyslog::test_pki();
        for (from, to) in [
            ("ca.crt", "ca.crt"),
            ("pg.crt", "server.crt"),
            ("pg.key", "server.key"),
        ] {
            std::fs::copy(pki.join(from), certs.path().join(to)).unwrap();
        }
        std::fs::set_permissions(
            certs.path().join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        chown_postgres(certs.path());
        let cluster = Cluster::start_with(&[
            "ssl = on",
            &format!(
                "ssl_cert_file = '{}'",
                certs.path().join("server.crt").display()
            ),
            &format!(
                "ssl_key_file = '{}'",
                certs.path().join("server.key").display()
            ),
            "listen_addresses = '127.0.0.1'",
        ]);
        cluster.hba(&["hostssl all all 127.0.0.1/32 scram-sha-256"]);
        TlsCluster { cluster, certs }
    }

    /// The test CA that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.certs.path().join("ca.crt")
    }
}
