//! The action parameter block and reading it through `nvlstGetParams`.
use super::abi::*;
use crate::config::RawParams;
use std::ffi::{c_char, c_void, CStr};

const TYPE_BINARY: i32 = 4;
const TYPE_INT: i32 = 6;
const TYPE_GETWORD: i32 = 13;
const TYPE_STRING: i32 = 14;
const REQUIRED: u32 = 1;

const N: usize = 8;
struct Descrs([CnfParamDescr; N]);
struct Blk(CnfParamBlk);
// SAFETY: immutable data pointing at static strings; rsyslog only reads it.
unsafe impl Sync for Descrs {}
unsafe impl Sync for Blk {}

const fn d(name: &'static CStr, typ: i32, flags: u32) -> CnfParamDescr {
    CnfParamDescr {
        name: name.as_ptr(),
        typ,
        flags,
    }
}

static DESCRS: Descrs = Descrs([
    d(c"conninfo", TYPE_STRING, REQUIRED),
    d(c"template", TYPE_GETWORD, 0),
    d(c"table", TYPE_GETWORD, 0),
    d(c"statementtimeout", TYPE_INT, 0),
    d(c"connecttimeout", TYPE_INT, 0),
    d(c"spooldir", TYPE_STRING, 0),
    d(c"journal", TYPE_BINARY, 0),
    d(c"journalworkers", TYPE_INT, 0),
]);
static BLK: Blk = Blk(CnfParamBlk {
    version: 1,
    n_params: N as u16,
    descr: DESCRS.0.as_ptr(),
});

/// Parse the action's parameter list. `None`: rsyslog already reported the
/// problem (unknown type, bad number, missing required parameter).
///
/// # Safety
/// `lst` must be the `nvlst` rsyslog passed to `newActInst`.
pub unsafe fn read(lst: *mut c_void) -> Option<RawParams> {
    let vals = nvlstGetParams(lst, &BLK.0, std::ptr::null_mut());
    if vals.is_null() {
        return None;
    }
    let v = std::slice::from_raw_parts(vals, N);
    let s = |i: usize| -> Option<String> {
        if v[i].used == 0 {
            return None;
        }
        let c = es_str2cstr(v[i].val.d.estr, std::ptr::null());
        if c.is_null() {
            return None;
        }
        let out = CStr::from_ptr(c).to_string_lossy().into_owned();
        libc::free(c.cast());
        Some(out)
    };
    let n = |i: usize| (v[i].used != 0).then(|| v[i].val.d.n);
    let raw = RawParams {
        conninfo: s(0),
        template: s(1),
        table: s(2),
        statement_timeout: n(3),
        connect_timeout: n(4),
        spool_dir: s(5),
        journal: n(6),
        journal_workers: n(7),
    };
    cnfparamvalsDestruct(vals, &BLK.0);
    Some(raw)
}

/// Make sure `name` exists as a template in the config being loaded; define
/// it from `line` (legacy `"..."` syntax) if not.
///
/// # Safety
/// `conf` must be the `rsconf_t*` of the config being loaded.
pub unsafe fn ensure_template(conf: *mut c_void, name: &CStr, line: &CStr) -> bool {
    let len = name.to_bytes().len() as i32;
    if !tplFind(conf, name.as_ptr(), len).is_null() {
        return true;
    }
    // tplAddLine advances the pointer it is given; hand it a private copy.
    let mut copy = line.to_bytes_with_nul().to_vec();
    let mut p = copy.as_mut_ptr();
    !tplAddLine(conf, name.as_ptr() as *const c_char, &mut p).is_null()
}
