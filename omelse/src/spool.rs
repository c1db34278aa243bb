//! The batches rsyslog would drop when it stops while PostgreSQL is down.
//!
//! At shutdown during an outage rsyslog's core calls `commitTransaction` for
//! the batch each worker holds in a tight loop and then drops it (ABI notes
//! §10): disk-assisted queues save only what is still queued. With `spooldir`
//! set, such a batch is written here instead (its COPY rows, fsynced, then
//! renamed into place) and reported delivered, so rsyslogd stops at once and
//! quietly; the next worker that connects stores the spooled files first.
//! pg_else keeps each line once (rsyslog's message UUID), so a file replayed
//! twice after a crash stores nothing twice.
//!
//! The journal (`journal`) writes its segments here too, as `<name>.open`
//! while it appends and renamed to `<name>.copy` when sealed, so the same
//! claiming serves both. A claim or an open segment belongs to the process
//! named in it; only those of processes that are gone are taken over (a
//! `rsyslogd -N1` run beside the live one must not take its files).
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const PREFIX: &str = "omelse-spool-";
const READY: &str = ".copy";
/// A file being replayed by process `pid`: `<name>.copy.claimed-<pid>-<n>`.
const CLAIMED: &str = ".claimed-";
/// A journal segment still being appended to by the process in its name.
pub const OPEN: &str = ".open";

static SEQ: AtomicU64 = AtomicU64::new(0);

pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        Spool { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new file name of this process, later names sorting after earlier ones.
    pub fn fresh_name(&self) -> String {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!(
            "{PREFIX}{stamp}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A new journal segment `<name>.open`, created empty (mode 0600).
    pub fn create_open(&self) -> io::Result<(File, PathBuf)> {
        let path = self.dir.join(format!("{}{OPEN}", self.fresh_name()));
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok((f, path))
    }

    /// Hand a finished segment to the claimers (`.open` -> `.copy`).
    pub fn seal(&self, open: &Path) -> io::Result<()> {
        fs::rename(open, open.with_extension(&READY[1..]))
    }

    /// Seal the open segments of processes that are gone (a crash or kill -9
    /// left them): every complete row in them is still to be stored.
    pub fn recover_open(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(PREFIX) && n.ends_with(OPEN))
            .filter(|n| !owner_alive(n.strip_suffix(OPEN).and_then(|b| b.rsplit('-').nth(1))))
            .filter(|n| self.seal(&self.dir.join(n)).is_ok())
            .count()
    }

    /// Keep `rows` (COPY text rows) durably; returns the file's path.
    pub fn save(&self, rows: &[u8]) -> io::Result<PathBuf> {
        let name = self.fresh_name();
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(format!("{name}{READY}"));
        // Mail log lines: readable by rsyslogd's user only.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(rows)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }

    /// Take the files waiting to be stored (also those a previous rsyslogd
    /// claimed but did not finish): each is renamed to a name of this
    /// process, so concurrent workers never replay the same file.
    pub fn claim(&self) -> Vec<PathBuf> {
        self.claimable()
            .into_iter()
            .filter_map(|n| self.take(&n))
            .collect()
    }

    /// Take the oldest waiting file, if any.
    pub fn claim_one(&self) -> Option<PathBuf> {
        self.claimable().into_iter().find_map(|n| self.take(&n))
    }

    /// Waiting files, oldest first: sealed ones, and claims of processes
    /// that are gone.
    fn claimable(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(PREFIX))
            .filter(|n| match n.split_once(CLAIMED) {
                None => n.ends_with(READY),
                Some((_, owner)) => !owner_alive(owner.split('-').next()),
            })
            .collect();
        names.sort();
        names
    }

    fn take(&self, name: &str) -> Option<PathBuf> {
        let base = name.split_once(CLAIMED).map_or(name, |(b, _)| b);
        let to = self.dir.join(format!(
            "{base}{CLAIMED}{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::rename(self.dir.join(name), &to).ok().map(|()| to)
    }

    /// Give a claimed file back (it could not be stored now).
    pub fn release(&self, claimed: &Path) {
        if let Some(base) = claimed
            .to_str()
            .and_then(|s| s.split_once(CLAIMED))
            .map(|(b, _)| b.to_owned())
        {
            let _ = fs::rename(claimed, base);
        }
    }

    /// Set aside a file PostgreSQL refused as data, so it does not block the rest.
    pub fn refuse(&self, claimed: &Path) -> PathBuf {
        let to = claimed.with_extension("refused");
        let _ = fs::rename(claimed, &to);
        to
    }
}

/// Is the process `pid` (from a file name) running? This process counts as
/// running; an unreadable pid as gone.
fn owner_alive(pid: Option<&str>) -> bool {
    match pid.and_then(|p| p.parse::<u32>().ok()) {
        Some(p) => p == std::process::id() || Path::new("/proc").join(p.to_string()).exists(),
        None => false,
    }
}

/// An empty folder of this test process for spool and journal tests.
#[cfg(test)]
pub(crate) fn empty_test_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omelse-{tag}-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_claim_release_and_done() {
        let dir = empty_test_dir("spool");
        let s = Spool::new(&dir);
        let a = s.save(b"row a\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
        s.save(b"row b\n").unwrap();
        assert!(a.to_str().unwrap().ends_with(".copy"));
        let claimed = s.claim();
        assert_eq!(claimed.len(), 2);
        assert!(s.claim().is_empty(), "a claimed file is not claimed twice");
        assert_eq!(fs::read(&claimed[0]).unwrap(), b"row a\n", "oldest first");
        s.release(&claimed[1]);
        let again = s.claim();
        assert_eq!(again.len(), 1);
        fs::remove_file(&again[0]).unwrap();
        // A file claimed by another (dead) process is taken over.
        let stale = dir.join(format!("{PREFIX}1-1-1{READY}{CLAIMED}999999999-0"));
        fs::write(&stale, b"row c\n").unwrap();
        let taken = s.claim();
        assert_eq!(taken.len(), 1);
        assert_eq!(fs::read(&taken[0]).unwrap(), b"row c\n");
        let refused = s.refuse(&taken[0]);
        assert!(refused.exists());
        assert!(s.claim().is_empty(), "a refused file stays aside");
        // A claim of a live process (pid 1) is left alone.
        fs::write(
            dir.join(format!("{PREFIX}1-1-2{READY}{CLAIMED}1-0")),
            b"x\n",
        )
        .unwrap();
        assert!(s.claim_one().is_none());
        // Open segments: ours stay open, a dead process's are sealed.
        let (mut f, open) = s.create_open().unwrap();
        f.write_all(b"row d\n").unwrap();
        fs::write(dir.join(format!("{PREFIX}2-999999999-0{OPEN}")), b"row e\n").unwrap();
        assert_eq!(s.recover_open(), 1);
        assert!(open.exists());
        let e = s.claim_one().unwrap();
        assert_eq!(fs::read(&e).unwrap(), b"row e\n");
        s.seal(&open).unwrap();
        assert_eq!(fs::read(s.claim_one().unwrap()).unwrap(), b"row d\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
