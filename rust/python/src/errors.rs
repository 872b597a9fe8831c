//! Engine errors as Python exceptions, and the guard that keeps panics on this side.
//!
//! Every engine error becomes one of the classes of `toksmith.errors` (all under
//! `ToksmithError`, each also a subclass of the builtin it used to be: `ValueError`, `KeyError`,
//! `OSError`). Engine work runs through [`run`] / [`run_engine`]: the GIL is released, and a
//! panic (a bug) is caught and raised as `toksmith.errors.InternalError`, never as an abort or a
//! `PanicException` that `except Exception` would not catch.

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use std::panic::{catch_unwind, AssertUnwindSafe};
use toksmith_core::ErrorKind;

/// An exception of class `name` of `toksmith.errors` (or `fallback` if that module is missing,
/// as in a half-installed package).
fn toksmith_error(name: &str, message: String, fallback: fn(String) -> PyErr) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Python::attach(|py| {
        let class = MODULE
            .get_or_try_init(py, || py.import("toksmith.errors").map(Bound::unbind))
            .and_then(|m| m.bind(py).getattr(name))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            Err(_) => fallback(message),
        }
    })
}

pub(crate) fn to_py(e: toksmith_core::Error) -> PyErr {
    use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError};
    let (name, fallback): (&str, fn(String) -> PyErr) = match e.kind {
        ErrorKind::Interrupted => return PyKeyboardInterrupt::new_err("interrupted"),
        ErrorKind::NotFound => ("ToksmithFileNotFoundError", PyFileNotFoundError::new_err),
        ErrorKind::Io => ("ToksmithOSError", PyOSError::new_err),
        ErrorKind::Key => ("ToksmithKeyError", PyKeyError::new_err),
        ErrorKind::Format => ("FormatError", PyValueError::new_err),
        ErrorKind::Unsupported => ("UnsupportedError", PyValueError::new_err),
        ErrorKind::Value => ("InvalidInputError", PyValueError::new_err),
    };
    toksmith_error(name, e.message, fallback)
}

/// A panic's payload as an `InternalError`.
fn internal(panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    toksmith_error(
        "InternalError",
        format!("internal error in toksmith (a bug; please report it with the input that caused it): {what}"),
        PyRuntimeError::new_err,
    )
}

/// Runs engine work `f` with the GIL released; a panic in it becomes `InternalError`.
pub(crate) fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(internal)
}

/// [`run`] for work that returns an engine `Result`: its error is raised as well.
pub(crate) fn run_engine<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> toksmith_core::Result<T> + Send,
) -> PyResult<T> {
    run(py, f)?.map_err(to_py)
}

/// A bad argument value found by the binding itself (as `toksmith.errors.InvalidInputError`).
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    toksmith_error("InvalidInputError", message.into(), PyValueError::new_err)
}

/// Whether Ctrl-C (or another signal with a Python handler that raises) is pending; callable
/// from engine work with the GIL released (it takes the GIL for the check). Checks at most every
/// `EVERY_MS` milliseconds, so callers may ask as often as they like.
pub(crate) fn interrupted() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    const EVERY_MS: u64 = 50;
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if now.saturating_sub(LAST.load(Ordering::Relaxed)) < EVERY_MS {
        return false;
    }
    LAST.store(now, Ordering::Relaxed);
    Python::attach(|py| py.check_signals().is_err())
}
