//! The entry points rsyslogd calls. Each one only converts pointers and
//! return codes and runs its body through `guarded` (no cancellation, panics
//! caught); the logic lives in the safe modules.
use super::abi::*;
use super::params;
use super::stats::{register, Registration};
use crate::config::{ActionConfig, DEFAULT_TEMPLATE_LINE};
use crate::db::{conninfo_is_valid, conninfo_values};
use crate::drain::Drainers;
use crate::error::ConfigError;
use crate::worker::{Outcome, Shared, Worker};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Once};

type AnyFn = *const c_void;

/// Module data: one per `action(type="omelse")`. `_stats` is declared first
/// so the statsobj is unregistered before the counters can go away.
/// `_drainers` (journal mode) come first of all: they are stopped and
/// joined before anything else of the action goes.
struct ActionData {
    _drainers: Option<Drainers>,
    _stats: Option<Registration>,
    shared: Arc<Shared>,
}

/// `rsyslogd -N1` only checks the configuration: no drainer threads then (they
/// would store journal segments from a process that is about to exit).
fn config_check_run() -> bool {
    std::fs::read("/proc/self/cmdline")
        .is_ok_and(|c| c.split(|&b| b == 0).skip(1).any(|a| a.starts_with(b"-N")))
}

/// The `rsconf_t*` being loaded (from beginCnfLoad), for defining our template.
static LOAD_CONF: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
/// Module config: we have no module-level parameters, only need a non-NULL cookie.
static MOD_CONF: u8 = 0;

/// # Safety
/// Called by rsyslogd's module loader with valid out-pointers.
#[no_mangle]
pub unsafe extern "C" fn modInit(
    _requested: c_int,
    provided: *mut c_int,
    query_out: *mut AnyFn,
    _host_query: AnyFn,
    _mod_info: *mut c_void,
) -> RsRet {
    guarded(RS_RET_ERR, || {
        if provided.is_null() || query_out.is_null() {
            return RS_RET_PARAM_ERROR;
        }
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                log_error(&format!("omelse: internal error: {info}"))
            }))
        });
        *provided = 6;
        *query_out = query_entry_point as AnyFn;
        RS_RET_OK
    })
}

unsafe extern "C" fn query_entry_point(name: *const c_char, out: *mut AnyFn) -> RsRet {
    guarded(RS_RET_ERR, || {
        if name.is_null() || out.is_null() {
            return RS_RET_PARAM_ERROR;
        }
        let f: AnyFn = match CStr::from_ptr(name).to_bytes() {
            b"getType" => get_type as AnyFn,
            b"getKeepType" => get_keep_type as AnyFn,
            b"modGetID" => mod_get_id as AnyFn,
            b"modExit" => mod_exit as AnyFn,
            b"isCompatibleWithFeature" => is_compatible_with_feature as AnyFn,
            b"getModCnfName" => get_mod_cnf_name as AnyFn,
            b"beginCnfLoad" => begin_cnf_load as AnyFn,
            b"endCnfLoad" | b"checkCnf" | b"activateCnf" | b"freeCnf" => cnf_noop as AnyFn,
            b"newActInst" => new_act_inst as AnyFn,
            b"parseSelectorAct" => parse_selector_act as AnyFn,
            b"freeInstance" => free_instance as AnyFn,
            b"dbgPrintInstInfo" => dbg_print_inst_info as AnyFn,
            b"createWrkrInstance" => create_wrkr_instance as AnyFn,
            b"freeWrkrInstance" => free_wrkr_instance as AnyFn,
            b"tryResume" => try_resume as AnyFn,
            b"beginTransaction" => begin_transaction as AnyFn,
            b"commitTransaction" => commit_transaction as AnyFn,
            b"doHUP" => do_hup as AnyFn,
            _ => {
                *out = std::ptr::null();
                return RS_RET_MODULE_ENTRY_POINT_NOT_FOUND;
            }
        };
        *out = f;
        RS_RET_OK
    })
}

unsafe extern "C" fn get_type(t: *mut c_int) -> RsRet {
    guarded(RS_RET_ERR, || {
        *t = 1; // output module
        RS_RET_OK
    })
}

unsafe extern "C" fn get_keep_type(k: *mut c_int) -> RsRet {
    guarded(RS_RET_ERR, || {
        *k = 1; // never dlclose a Rust library (thread-locals, panic hook)
        RS_RET_OK
    })
}

unsafe extern "C" fn mod_get_id(id: *mut *const c_void) -> RsRet {
    guarded(RS_RET_ERR, || {
        *id = mod_exit as *const c_void;
        RS_RET_OK
    })
}

extern "C" fn mod_exit() -> RsRet {
    guarded(RS_RET_ERR, || RS_RET_OK)
}

extern "C" fn is_compatible_with_feature(feature: c_int) -> RsRet {
    // 1 = repeated-message reduction: harmless for us, as stock modules say.
    guarded(RS_RET_INCOMPATIBLE, || {
        if feature == 1 {
            RS_RET_OK
        } else {
            RS_RET_INCOMPATIBLE
        }
    })
}

unsafe extern "C" fn get_mod_cnf_name(name: *mut *const u8) -> RsRet {
    guarded(RS_RET_ERR, || {
        *name = c"omelse".as_ptr().cast();
        RS_RET_OK
    })
}

unsafe extern "C" fn begin_cnf_load(mod_conf: *mut *const c_void, conf: *mut c_void) -> RsRet {
    guarded(RS_RET_ERR, || {
        LOAD_CONF.store(conf, Ordering::Release);
        *mod_conf = std::ptr::addr_of!(MOD_CONF).cast();
        RS_RET_OK
    })
}

extern "C" fn cnf_noop(_mod_conf: *mut c_void) -> RsRet {
    guarded(RS_RET_ERR, || RS_RET_OK)
}

unsafe extern "C" fn new_act_inst(
    _mod_name: *const u8,
    lst: *mut c_void,
    mod_data: *mut *mut c_void,
    omsr: *mut *mut c_void,
) -> RsRet {
    guarded(RS_RET_ERR, || {
        *omsr = std::ptr::null_mut();
        let Some(raw) = params::read(lst) else {
            return RS_RET_MISSING_CNFPARAMS;
        };
        let config = match ActionConfig::from_raw(raw, conninfo_is_valid) {
            Ok(c) => c,
            Err(e) => {
                config_error(&format!("omelse: {e}"));
                return match e {
                    ConfigError::Missing(_) => RS_RET_CONF_RQRD_PARAM_MISSING,
                    ConfigError::Invalid { .. } => RS_RET_INVALID_PARAMS,
                };
            }
        };
        if let Some(w) = conninfo_values(config.conninfo())
            .and_then(|v| ActionConfig::tls_warning(&v, |k| std::env::var(k).ok()))
        {
            log_error(&w);
        }
        let tpl = CString::new(config.template_name()).expect("GetWord value has no NUL");
        if config.template.is_none() {
            let line = CString::new(DEFAULT_TEMPLATE_LINE).expect("no NUL");
            if !params::ensure_template(LOAD_CONF.load(Ordering::Acquire), &tpl, &line) {
                config_error("omelse: cannot define the default template");
                return RS_RET_ERR;
            }
        }
        let mut req: *mut c_void = std::ptr::null_mut();
        let rc = OMSRconstruct(&mut req, 1);
        if rc != RS_RET_OK {
            return rc;
        }
        // rsyslog frees the name with free(): it must come from the C heap.
        let rc = OMSRsetEntry(req, 0, libc::strdup(tpl.as_ptr()).cast(), 0);
        if rc != RS_RET_OK {
            OMSRdestruct(req);
            return rc;
        }
        let shared = Arc::new(Shared::new(config, log_error));
        let drainers = match (&shared.journal, shared.config.journal_workers) {
            (Some(j), Some(n)) if !config_check_run() => Some(Drainers::start(&shared, j, n)),
            _ => None,
        };
        let data = Box::new(ActionData {
            _drainers: drainers,
            _stats: register(&shared.stats),
            shared,
        });
        *mod_data = Box::into_raw(data).cast();
        *omsr = req;
        RS_RET_OK
    })
}

extern "C" fn parse_selector_act(
    _line: *mut *mut u8,
    _data: *mut c_void,
    _omsr: *mut c_void,
) -> RsRet {
    // No legacy syntax; let other modules try (anything else breaks theirs).
    guarded(RS_RET_CONFLINE_UNPROCESSED, || RS_RET_CONFLINE_UNPROCESSED)
}

unsafe extern "C" fn free_instance(data: *mut c_void) -> RsRet {
    guarded(RS_RET_ERR, || {
        if !data.is_null() {
            drop(Box::from_raw(data.cast::<ActionData>()));
        }
        RS_RET_OK
    })
}

extern "C" fn dbg_print_inst_info(_data: *mut c_void) -> RsRet {
    guarded(RS_RET_OK, || RS_RET_OK)
}

unsafe extern "C" fn create_wrkr_instance(wrkr: *mut *mut c_void, data: *mut c_void) -> RsRet {
    guarded(RS_RET_ERR, || {
        let action = &*data.cast::<ActionData>();
        // No connection here: a down database must not fail worker creation.
        *wrkr = Box::into_raw(Box::new(Worker::new(Arc::clone(&action.shared)))).cast();
        RS_RET_OK
    })
}

unsafe extern "C" fn free_wrkr_instance(wrkr: *mut c_void) -> RsRet {
    guarded(RS_RET_ERR, || {
        if !wrkr.is_null() {
            drop(Box::from_raw(wrkr.cast::<Worker>()));
        }
        RS_RET_OK
    })
}

unsafe extern "C" fn try_resume(wrkr: *mut c_void) -> RsRet {
    guarded(RS_RET_SUSPENDED, || {
        code((*wrkr.cast::<Worker>()).try_resume())
    })
}

extern "C" fn begin_transaction(_wrkr: *mut c_void) -> RsRet {
    // The transaction starts in commitTransaction: rsyslog may skip this call.
    guarded(RS_RET_OK, || RS_RET_OK)
}

unsafe extern "C" fn commit_transaction(
    wrkr: *mut c_void,
    p: *const ActWrkrIParams,
    n: c_uint,
) -> RsRet {
    guarded(RS_RET_DATAFAIL, || {
        let worker = &mut *wrkr.cast::<Worker>();
        let params = std::slice::from_raw_parts(p, n as usize);
        let lines = params.iter().map(|e| {
            if e.param.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(e.param.cast_const(), e.len_str as usize)
            }
        });
        code(worker.commit(lines))
    })
}

unsafe extern "C" fn do_hup(data: *mut c_void) -> RsRet {
    guarded(RS_RET_OK, || {
        // Main thread, concurrent with commits: only raise a flag.
        (*data.cast::<ActionData>()).shared.hup();
        RS_RET_OK
    })
}

fn code(o: Outcome) -> RsRet {
    match o {
        Outcome::Ok => RS_RET_OK,
        Outcome::Suspended => RS_RET_SUSPENDED,
        Outcome::DataFail => RS_RET_DATAFAIL,
    }
}
