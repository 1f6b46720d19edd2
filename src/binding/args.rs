//! Arguments of the hot calls read straight through N-API, without the allocations of
//! napi-rs's conversions: `publish()` runs once per message, and a topic made into a `String`
//! costs it a length query, an allocation and a free (perf, bench case 3).

use std::cell::RefCell;

use napi::bindgen_prelude::*;

thread_local! {
    /// Where topics are decoded; grows to the longest topic seen (at most 64 KiB by MQTT's
    /// limit, §1.5.4) and is reused.
    static TOPIC: RefCell<Vec<u8>> = RefCell::new(vec![0; 256]);
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::InvalidArg, format!("{what} expected")))
    }
}

/// Runs `f` on the UTF-8 of the JavaScript string `value` (lone surrogates become U+FFFD, as
/// with every N-API string conversion).
pub fn with_str<R>(env: &Env, value: &Unknown<'_>, f: impl FnOnce(&str) -> R) -> Result<R> {
    // Copies the string's UTF-8 into `buf` (at most `cap` bytes with a NUL; none when null) and
    // returns its length, or the whole length when `buf` is null.
    let utf8 = |buf: *mut u8, cap: usize| -> Result<usize> {
        let mut len = 0usize;
        // SAFETY: `buf` is null or has room for `cap` bytes.
        check(
            unsafe {
                sys::napi_get_value_string_utf8(env.raw(), value.raw(), buf.cast(), cap, &mut len)
            },
            "a string",
        )?;
        Ok(len)
    };
    TOPIC.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let mut len = utf8(buffer.as_mut_ptr(), buffer.len())?;
        // V8 writes no partial character: a string cut short by the buffer's end can stop up
        // to 3 bytes (a 4-byte character) before the NUL's place. Within 4 bytes of full it
        // may have been cut: ask for the length and read again.
        if len + 4 >= buffer.len() {
            let whole = utf8(std::ptr::null_mut(), 0)?;
            // Room for the string, its NUL and the margin above, so that the same topic next
            // time is read in one call.
            buffer.resize(whole + 5, 0);
            len = utf8(buffer.as_mut_ptr(), buffer.len())?;
        }
        let text = std::str::from_utf8(&buffer[..len])
            .map_err(|_| Error::new(Status::InvalidArg, "a string expected".to_string()))?;
        Ok(f(text))
    })
}

/// The bytes of a `Uint8Array` (a `Buffer`), valid while the calling N-API function runs (no
/// JavaScript runs meanwhile, so nothing can detach or resize its memory).
pub fn bytes<'a>(env: &Env, value: &'a Unknown<'_>) -> Result<&'a [u8]> {
    let mut kind = sys::TypedarrayType::uint8_array;
    let mut length = 0usize;
    let mut data = std::ptr::null_mut();
    let mut buffer = std::ptr::null_mut();
    let mut offset = 0usize;
    // SAFETY: fills the out-parameters for a typed array, or fails for anything else.
    check(
        unsafe {
            sys::napi_get_typedarray_info(
                env.raw(),
                value.raw(),
                &mut kind,
                &mut length,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        },
        "a Uint8Array",
    )?;
    if kind != sys::TypedarrayType::uint8_array && kind != sys::TypedarrayType::uint8_clamped_array
    {
        return Err(Error::new(
            Status::InvalidArg,
            "a Uint8Array expected".to_string(),
        ));
    }
    if length == 0 || data.is_null() {
        return Ok(&[]);
    }
    // SAFETY: N-API's pointer to the array's first element (already past its offset) and its
    // length in bytes (one byte per element); alive as long as the value, which the caller
    // holds for the call.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) })
}

/// An optional object argument decoded with serde: `None` when it is absent, `null` or
/// `undefined` (the shim passes `null` for "none").
pub fn optional<T: serde::de::DeserializeOwned>(
    env: &Env,
    value: Option<Unknown<'_>>,
) -> Result<Option<T>> {
    match value {
        Some(value) if !matches!(value.get_type()?, ValueType::Null | ValueType::Undefined) => {
            Ok(Some(env.from_js_value(value)?))
        }
        _ => Ok(None),
    }
}
