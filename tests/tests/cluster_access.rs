//! Who can reach a private PostgreSQL cluster: the demo's (started by
//! `scripts/lib.sh start_cluster`, as `scripts/setup` does) and the tests'
//! own. Another local user (`nobody`) cannot connect at all, neither over the
//! Unix socket nor over TCP; the user who ran the script logs in by peer
//! authentication as postgres and as the roles it named, and as no other
//! role. The state folder is refused when it is a symbolic link or owned by
//! someone else.
use else_tests::pg::{Cluster, PGBIN};
use else_tests::sys::{free_port, is_root, run, shared_tempdir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lib_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lib.sh")
}

/// `bash -c 'source scripts/lib.sh; SCRIPT'`.
fn lib(script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -e; source '{}'; {script}", lib_sh().display()))
        .output()
        .unwrap()
}

/// psql as the OS user `os_user` (None: this process's user).
fn psql(os_user: Option<&str>, host: &str, port: u16, role: &str) -> Output {
    let psql = format!("{PGBIN}/psql");
    let args = [
        "-X",
        "-w",
        "-h",
        host,
        "-p",
        &port.to_string(),
        "-U",
        role,
        "-d",
        "postgres",
        "-Atc",
        "SELECT current_user",
    ];
    let mut cmd = match os_user {
        Some(u) if is_root() => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", &psql]);
            c
        }
        Some(u) => {
            let mut c = Command::new("sudo");
            c.args(["-n", "-u", u, "--", &psql]);
            c
        }
        None => Command::new(&psql),
    };
    cmd.args(args).current_dir("/").output().unwrap()
}

fn refused(what: &str, out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{what} must be refused, got {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn accepted(what: &str, out: Output, role: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), role, "{what}");
}

#[test]
fn the_demo_cluster_admits_only_its_user_by_peer() {
    let tmp = shared_tempdir("else-demo-test-");
    let dir = tmp.path().join("postgres");
    let sock = dir.join("sock").display().to_string();
    let port = free_port();
    let started = lib(&format!(
        "start_cluster '{}' {port} else_rsyslog",
        dir.display()
    ));
    let stop = || lib(&format!("stop_cluster '{}' immediate", dir.display()));
    let result = std::panic::catch_unwind(|| {
        assert!(
            started.status.success(),
            "start_cluster: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&dir).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o700, "the cluster folder is private");
        accepted(
            "this user as postgres",
            psql(None, &sock, port, "postgres"),
            "postgres",
        );
        run(Command::new(format!("{PGBIN}/psql")).args([
            "-X",
            "-h",
            &sock,
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "CREATE ROLE else_rsyslog LOGIN; CREATE ROLE intruder LOGIN SUPERUSER",
        ]));
        accepted(
            "this user as a mapped role",
            psql(None, &sock, port, "else_rsyslog"),
            "else_rsyslog",
        );
        let err = refused(
            "this user as an unmapped role",
            psql(None, &sock, port, "intruder"),
        );
        // Not mapped: it would need that role's password (it has none).
        assert!(
            err.contains("no password supplied") || err.contains("password authentication failed"),
            "{err}"
        );

        let err = refused(
            "nobody over the socket",
            psql(Some("nobody"), &sock, port, "postgres"),
        );
        assert!(err.contains("Permission denied"), "{err}");
        let err = refused(
            "nobody as the writer",
            psql(Some("nobody"), &sock, port, "else_rsyslog"),
        );
        assert!(err.contains("Permission denied"), "{err}");
        let err = refused(
            "nobody over TCP",
            psql(Some("nobody"), "127.0.0.1", port, "postgres"),
        );
        assert!(err.contains("Connection refused"), "{err}");
        let err = refused(
            "this user over TCP",
            psql(None, "127.0.0.1", port, "postgres"),
        );
        assert!(err.contains("Connection refused"), "{err}");
    });
    let stopped = stop();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(
        stopped.status.success(),
        "stop_cluster: {}",
        String::from_utf8_lossy(&stopped.stderr)
    );
}

#[test]
fn the_state_folder_must_be_ours_and_real() {
    let tmp = shared_tempdir("else-safe-dir-");
    // A symbolic link planted where the state folder goes.
    let link = tmp.path().join("linked");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let out = lib(&format!("safe_dir '{}' 0755", link.display()));
    assert!(!out.status.success(), "a symbolic link is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a folder"));
    // A folder made first by another user.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    run(Command::new("chown").arg("nobody").arg(&theirs));
    let out = lib(&format!("safe_dir '{}' 0755", theirs.display()));
    assert!(!out.status.success(), "another user's folder is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("owned by nobody"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A new folder is made with the mode asked for.
    let fresh = tmp.path().join("fresh");
    let out = lib(&format!("safe_dir '{}' 0700", fresh.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&fresh).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn the_test_clusters_are_closed_to_other_users() {
    let c = Cluster::start_plain(&[]);
    let sock = c.socket_dir().display().to_string();
    accepted(
        "the test user",
        psql(None, &sock, c.port, "postgres"),
        "postgres",
    );
    let err = refused(
        "nobody over the socket",
        psql(Some("nobody"), &sock, c.port, "postgres"),
    );
    assert!(err.contains("Permission denied"), "{err}");
    let err = refused(
        "nobody over TCP",
        psql(Some("nobody"), "127.0.0.1", c.port, "postgres"),
    );
    assert!(err.contains("Connection refused"), "{err}");
}
