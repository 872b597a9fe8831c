//! Engine errors as Python exceptions.

use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyValueError};
use pyo3::PyErr;
use toksmith_core::ErrorKind;

pub(crate) fn to_py(e: toksmith_core::Error) -> PyErr {
    match e.kind {
        ErrorKind::NotFound => PyFileNotFoundError::new_err(e.message),
        ErrorKind::Io => PyOSError::new_err(e.message),
        ErrorKind::Key => PyKeyError::new_err(e.message),
        ErrorKind::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted"),
        ErrorKind::Format | ErrorKind::Unsupported | ErrorKind::Value => {
            PyValueError::new_err(e.message)
        }
    }
}
