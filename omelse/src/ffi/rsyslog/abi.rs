//! Declarations of what rsyslogd 8.2302 exports to modules (see
//! ../shared/docs/rsyslog-module-abi.md beside the project) and small safe helpers around them.
use std::ffi::{c_char, c_int, c_void, CString};

pub type RsRet = i32;
pub const RS_RET_OK: RsRet = 0;
pub const RS_RET_PARAM_ERROR: RsRet = -1000;
pub const RS_RET_MODULE_ENTRY_POINT_NOT_FOUND: RsRet = -1004;
pub const RS_RET_CONFLINE_UNPROCESSED: RsRet = -2001;
pub const RS_RET_INCOMPATIBLE: RsRet = -2003;
pub const RS_RET_SUSPENDED: RsRet = -2007;
pub const RS_RET_INVALID_PARAMS: RsRet = -2016;
pub const RS_RET_CONF_RQRD_PARAM_MISSING: RsRet = -2208;
pub const RS_RET_MISSING_CNFPARAMS: RsRet = -2211;
pub const RS_RET_DATAFAIL: RsRet = -2218;
pub const RS_RET_ERR: RsRet = -3000;

/// `struct actWrkrIParams`: one rendered template string.
#[repr(C)]
pub struct ActWrkrIParams {
    pub param: *mut u8,
    pub len_buf: u32,
    pub len_str: u32,
}

#[repr(C)]
pub struct CnfParamDescr {
    pub name: *const c_char,
    pub typ: c_int,
    pub flags: u32,
}

#[repr(C)]
pub struct CnfParamBlk {
    pub version: u16,
    pub n_params: u16,
    pub descr: *const CnfParamDescr,
}

#[repr(C)]
pub union SvarData {
    pub estr: *mut c_void,
    pub n: i64,
}

#[repr(C)]
pub struct Svar {
    pub d: SvarData,
    pub datatype: c_char,
}

#[repr(C)]
pub struct CnfParamVals {
    pub val: Svar,
    pub used: u8,
}

extern "C" {
    fn LogError(errnum: c_int, code: c_int, fmt: *const c_char, ...);
    fn parser_errmsg(fmt: *const c_char, ...);
    pub fn nvlstGetParams(
        lst: *mut c_void,
        blk: *const CnfParamBlk,
        vals: *mut CnfParamVals,
    ) -> *mut CnfParamVals;
    pub fn cnfparamvalsDestruct(vals: *const CnfParamVals, blk: *const CnfParamBlk);
    pub fn es_str2cstr(s: *mut c_void, nul_esc: *const c_char) -> *mut c_char;
    pub fn OMSRconstruct(pp: *mut *mut c_void, n: c_int) -> RsRet;
    pub fn OMSRsetEntry(p: *mut c_void, idx: c_int, name: *mut u8, opts: c_int) -> RsRet;
    pub fn OMSRdestruct(p: *mut c_void) -> RsRet;
    pub fn tplFind(conf: *mut c_void, name: *const c_char, len: c_int) -> *mut c_void;
    pub fn tplAddLine(conf: *mut c_void, name: *const c_char, rest: *mut *mut u8) -> *mut c_void;
    fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int;
}

fn cstring(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).expect("NULs replaced")
}

/// An rsyslog error line (runtime). Text is passed as an argument, never as
/// the format.
pub fn log_error(text: &str) {
    let c = cstring(text);
    // SAFETY: "%s" with one valid C string.
    unsafe { LogError(0, -1, c"%s".as_ptr(), c.as_ptr()) }
}

/// A config-time error (rsyslog adds file and line).
pub fn config_error(text: &str) {
    let c = cstring(text);
    // SAFETY: as above.
    unsafe { parser_errmsg(c"%s".as_ptr(), c.as_ptr()) }
}

/// Disables pthread cancellation while alive (rsyslog cancels slow workers at
/// shutdown; a forced unwind through Rust frames would abort the process).
pub struct NoCancel(c_int);

impl NoCancel {
    pub fn new() -> NoCancel {
        let mut old = 0;
        // SAFETY: plain libc call on the current thread; 1 = PTHREAD_CANCEL_DISABLE.
        unsafe { pthread_setcancelstate(1, &mut old) };
        NoCancel(old)
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        let mut ignored = 0;
        // SAFETY: restores the state saved in `new`.
        unsafe { pthread_setcancelstate(self.0, &mut ignored) };
    }
}

/// Run an entry point body with cancellation disabled and panics caught.
pub fn guarded(on_panic: RsRet, body: impl FnOnce() -> RsRet) -> RsRet {
    let _nc = NoCancel::new(); // dropped after catch_unwind returned
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(on_panic)
}
