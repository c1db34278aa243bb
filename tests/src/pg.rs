//! A private PostgreSQL 15 cluster: own data folder, own port number, no TCP
//! listener. Its socket is in a folder of mode 0700 owned by the cluster's OS
//! user (`postgres` when the tests run as root: initdb refuses root), so only
//! that user and root can reach it at all; inside, `trust` lets the tests log
//! in as any role they create (PostgreSQL 15's peer maps cannot name roles
//! by pattern). A test that wants TCP adds it with [`Cluster::hba`].
//! Stopped with `pg_ctl -m immediate` on drop.
use crate::sys::{chown_postgres, free_port, is_root, require, run, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const PGBIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The server's programs: Debian's (PGBIN) or a private installation's.
    pub bin: PathBuf,
    running: bool,
}

fn pg_cmd_in(bin: &Path, prog: &str) -> Command {
    let path = bin.join(prog);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
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
        Self::start_plain_in(Path::new(PGBIN), settings)
    }

    /// Like [`Cluster::start_plain`] with the programs in `bin`: a private
    /// installation (see [`Installation`]) with its own extension files.
    pub fn start_plain_in(bin: &Path, settings: &[&str]) -> Cluster {
        // The postgres user must be able to reach the folder.
        let dir = crate::sys::shared_tempdir("else-pg-");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        chown_postgres(dir.path());
        let data = dir.path().join("data");
        run(pg_cmd_in(bin, "initdb").arg("-D").arg(&data).args([
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
            bin: bin.to_owned(),
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

    /// A hot standby of this cluster (streaming replication, same programs),
    /// started with `settings` besides the usual ones; `extra` of this cluster
    /// must allow replication connections (`local replication all trust` via
    /// [`Cluster::hba`]).
    pub fn standby(&self, settings: &[&str]) -> Cluster {
        let dir = crate::sys::shared_tempdir("else-pg-standby-");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        chown_postgres(dir.path());
        run(pg_cmd_in(&self.bin, "pg_basebackup")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-X", "stream", "-h"])
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres"]));
        let mut c = Cluster {
            dir,
            port: free_port(),
            bin: self.bin.clone(),
            running: false,
        };
        // The copied postgresql.auto.conf names this cluster's port and
        // socket: written anew, with the way back to the primary.
        let primary = format!(
            "primary_conninfo = 'host={} port={} user=postgres'",
            self.socket_dir().display(),
            self.port
        );
        let mut all: Vec<&str> = settings.to_vec();
        all.push(&primary);
        c.settings(&all);
        let signal = c.data().join("standby.signal");
        std::fs::write(&signal, "").unwrap();
        chown_postgres(&signal);
        c.pg_start();
        c
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
        run(pg_cmd_in(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "60", "start"]));
        self.running = true;
    }

    /// Stop in the given mode (`fast`, `immediate`); waits until it is down.
    pub fn pg_stop(&mut self, mode: &str) {
        run(pg_cmd_in(&self.bin, "pg_ctl")
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
            let _ = pg_cmd_in(&self.bin, "pg_ctl")
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

/// A private copy of Debian's PostgreSQL 15 programs, libraries and shared
/// files under one prefix, into which a test installs extension files without
/// touching the system's. PostgreSQL finds its share and lib folders relative
/// to its programs when they keep Debian's layout (`PREFIX/usr/lib/postgresql/15/bin`
/// next to `PREFIX/usr/share/postgresql/15`), so several versions of pg_else
/// can be tested side by side.
pub struct Installation {
    pub prefix: tempfile::TempDir,
}

impl Installation {
    /// The build under test: a copy of the system's PostgreSQL 15 with the
    /// pg_else installed there, or with the `cargo pgrx package` tree named
    /// by `$ELSE_PG_ELSE_PACKAGE` instead.
    pub fn under_test() -> Installation {
        let i = Self::copy_of_system();
        if let Some(p) = std::env::var_os("ELSE_PG_ELSE_PACKAGE") {
            i.remove_pg_else();
            i.overlay(Path::new(&p));
        }
        i
    }

    /// A copy of the system's PostgreSQL 15 (with whatever pg_else is installed there).
    pub fn copy_of_system() -> Installation {
        require(&format!("{PGBIN}/postgres"), "postgresql-15");
        let prefix = crate::sys::shared_tempdir("else-pginst-");
        for (from, to) in [
            ("/usr/lib/postgresql/15", "usr/lib/postgresql"),
            ("/usr/share/postgresql/15", "usr/share/postgresql"),
        ] {
            let dest = prefix.path().join(to);
            std::fs::create_dir_all(&dest).unwrap();
            // -L: real files, not links (PostgreSQL resolves its own path through links).
            run(Command::new("cp").args(["-RL", from]).arg(&dest));
        }
        chown_postgres(prefix.path());
        Installation { prefix }
    }

    pub fn bin(&self) -> PathBuf {
        self.prefix.path().join("usr/lib/postgresql/15/bin")
    }

    pub fn lib(&self) -> PathBuf {
        self.prefix.path().join("usr/lib/postgresql/15/lib")
    }

    pub fn extension_dir(&self) -> PathBuf {
        self.prefix.path().join("usr/share/postgresql/15/extension")
    }

    /// Copy a `cargo pgrx package` tree (`DIR/usr/...`) over this installation.
    pub fn overlay(&self, package: &Path) {
        run(Command::new("cp")
            .args(["-R", "--no-preserve=ownership"])
            .arg(package.join("usr"))
            .arg(self.prefix.path()));
        chown_postgres(self.prefix.path());
    }

    /// Install pg_else's files (library, control, every SQL script) of
    /// another installation over this one's, each written beside and renamed
    /// into place as dpkg does: running backends keep the library they mapped.
    pub fn install_pg_else_from(&self, other: &Installation) {
        let put = |from: PathBuf, to: PathBuf| {
            let tmp = to.with_extension("dpkg-new");
            std::fs::copy(&from, &tmp).unwrap();
            std::fs::rename(&tmp, &to).unwrap();
        };
        put(
            other.lib().join("pg_else.so"),
            self.lib().join("pg_else.so"),
        );
        for e in std::fs::read_dir(other.extension_dir()).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.starts_with("pg_else.") || name.starts_with("pg_else--") {
                put(
                    other.extension_dir().join(&name),
                    self.extension_dir().join(&name),
                );
            }
        }
        chown_postgres(self.prefix.path());
    }

    /// Remove every pg_else file (library, control, SQL scripts).
    pub fn remove_pg_else(&self) {
        let _ = std::fs::remove_file(self.lib().join("pg_else.so"));
        for e in std::fs::read_dir(self.extension_dir()).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.starts_with("pg_else.") || name.starts_with("pg_else--") {
                std::fs::remove_file(self.extension_dir().join(name)).unwrap();
            }
        }
    }
}

/// The one value of a one-row, one-column query (panics with the SQL on error).
pub fn one<T: for<'a> postgres::types::FromSql<'a>>(db: &mut postgres::Client, sql: &str) -> T {
    db.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}
