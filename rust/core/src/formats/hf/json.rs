//! Reading `tokenizer.json` fields, with errors that name the JSON path.

use crate::util::error::shortened;
use crate::{Error, Result};
use serde_json::Value;

pub(super) fn field<'a>(obj: &'a Value, path: &str, key: &str) -> Result<&'a Value> {
    obj.get(key)
        .ok_or_else(|| Error::format(format!("{path}: missing field \"{key}\"")))
}

pub(super) fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| {
        Error::format(format!(
            "{path}: expected a string, found {}",
            shortened(&v.to_string())
        ))
    })
}

pub(super) fn as_bool(v: Option<&Value>, path: &str, default: bool) -> Result<bool> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::format(format!(
            "{path}: expected true or false, found {}",
            shortened(&other.to_string())
        ))),
    }
}

pub(super) fn as_u32(v: &Value, path: &str) -> Result<u32> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n != u32::MAX)
        .ok_or_else(|| {
            Error::format(format!(
                "{path}: expected a token id, found {}",
                shortened(&v.to_string())
            ))
        })
}

/// The `type` of a component. Messages quote it whole ("unsupported decoder X"), so a name
/// longer than any component's is refused here, quoted briefly.
pub(super) fn kind<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    let name = as_str(field(v, path, "type")?, &format!("{path}.type"))?;
    if name.chars().count() > 64 {
        return Err(Error::unsupported(format!(
            "{path}.type: unknown component type {}",
            crate::util::error::quoted(name)
        )));
    }
    Ok(name)
}
