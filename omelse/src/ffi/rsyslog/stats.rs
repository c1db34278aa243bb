//! impstats counters through rsyslog's statsobj interface (version 13 in
//! 8.2302; the core refuses other versions, then we simply run without).
use super::abi::{RsRet, RS_RET_OK};
use crate::stats::Stats;
use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

type Obj = *mut c_void;
type Any = *const c_void;

/// `statsobj_if_t` of rsyslog 8.2302 (interface version 13).
#[repr(C)]
struct StatsIf {
    if_version: c_int,
    if_is_loaded: c_int,
    debug_print: Any,
    construct: Option<unsafe extern "C" fn(*mut Obj) -> RsRet>,
    construct_finalize: Option<unsafe extern "C" fn(Obj) -> RsRet>,
    destruct: Option<unsafe extern "C" fn(*mut Obj) -> RsRet>,
    set_name: Option<unsafe extern "C" fn(Obj, *const u8) -> RsRet>,
    set_origin: Option<unsafe extern "C" fn(Obj, *const u8) -> RsRet>,
    set_read_notifier: Any,
    set_reporting_ns: Any,
    set_flags: Any,
    get_all_lines: Any,
    add_counter: Option<unsafe extern "C" fn(Obj, *const u8, c_int, i8, *mut c_void) -> RsRet>,
    add_managed_counter: Any,
    add_precreated: Any,
    destruct_counter: Any,
    destruct_unlinked: Any,
    unlink_all: Any,
    enable_stats: Any,
}
struct Iface(StatsIf);
// SAFETY: a table of function pointers filled once, then only read.
unsafe impl Sync for Iface {}
unsafe impl Send for Iface {}

extern "C" {
    fn statsobjQueryInterface(p: *mut StatsIf) -> RsRet;
}

const IF_VERSION: c_int = 13;
const CTR_TYPE_INTCTR: c_int = 0;
const CTR_FLAG_RESETTABLE: i8 = 1;

fn iface() -> Option<&'static StatsIf> {
    static IF: OnceLock<Option<Iface>> = OnceLock::new();
    IF.get_or_init(|| {
        let mut t = StatsIf {
            if_version: IF_VERSION,
            if_is_loaded: 0,
            debug_print: std::ptr::null(),
            construct: None,
            construct_finalize: None,
            destruct: None,
            set_name: None,
            set_origin: None,
            set_read_notifier: std::ptr::null(),
            set_reporting_ns: std::ptr::null(),
            set_flags: std::ptr::null(),
            get_all_lines: std::ptr::null(),
            add_counter: None,
            add_managed_counter: std::ptr::null(),
            add_precreated: std::ptr::null(),
            destruct_counter: std::ptr::null(),
            destruct_unlinked: std::ptr::null(),
            unlink_all: std::ptr::null(),
            enable_stats: std::ptr::null(),
        };
        // SAFETY: the core fills the table if the version matches.
        let rc = unsafe { statsobjQueryInterface(&mut t) };
        (rc == RS_RET_OK && t.construct.is_some() && t.add_counter.is_some()).then_some(Iface(t))
    })
    .as_ref()
    .map(|i| &i.0)
}

/// A registered statsobj; unregistered on drop (before the counters die).
pub struct Registration(Obj);

/// Register the action's counters as statsobj "omelse" (then "omelse-2", ...).
/// The counters must outlive the returned registration.
pub fn register(stats: &Stats) -> Option<Registration> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let i = iface()?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = if seq == 0 {
        "omelse".to_owned()
    } else {
        format!("omelse-{}", seq + 1)
    };
    let name = CString::new(name).expect("no NUL");
    let mut obj: Obj = std::ptr::null_mut();
    // SAFETY: interface functions of the running rsyslogd; names are copied by
    // the core; counter pointers stay valid until `Registration` is dropped.
    unsafe {
        if (i.construct?)(&mut obj) != RS_RET_OK || obj.is_null() {
            return None;
        }
        let reg = Registration(obj);
        (i.set_name?)(obj, name.as_ptr().cast());
        (i.set_origin?)(obj, c"omelse".as_ptr().cast());
        for (n, ctr) in stats.named() {
            let n = CString::new(n).expect("static name");
            (i.add_counter?)(
                obj,
                n.as_ptr().cast(),
                CTR_TYPE_INTCTR,
                CTR_FLAG_RESETTABLE,
                ctr.as_ptr().cast(),
            );
        }
        if (i.construct_finalize?)(obj) != RS_RET_OK {
            return None; // reg's drop destructs it
        }
        Some(reg)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(destruct) = iface().and_then(|i| i.destruct) {
            // SAFETY: object created by `construct` above, destroyed once.
            unsafe { destruct(&mut self.0) };
        }
    }
}
