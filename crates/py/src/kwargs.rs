//! `asgd.train`'s keyword arguments as a `trainer::Config`: each keyword is the `Config` field of
//! the same name, its value converted to JSON and laid over the preset's configuration, which
//! serde then checks — by `Config::overlay`, as the `trainer` binary lays its options over the
//! preset, with the same messages: `` `field`: <serde's reason> `` for a value
//! serde refuses, `` `field` must be a finite number `` for NaN or ±∞, and
//! `Config::validate`'s messages, which name fields in backticks (the binary turns
//! `` `eta_cap` `` into `--eta-cap`; Python keeps the keyword's name). An unknown keyword gets
//! serde's `unknown field` message, as `Config::from_json` gives it.

use crate::convert::value_error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};
use trainer::{Algorithm, Config};

/// The configuration `preset` with `kwargs` laid over it, checked (`Config::validate`), and the
/// keywords as JSON (for the report's `command`).
pub fn config(
    preset: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Config, Map<String, Value>)> {
    let mut base = Config::default();
    match preset {
        "default" => {}
        "thesis" => base.apply_thesis_preset(),
        _ => {
            return Err(value_error(format!(
                "preset = {preset:?}: must be \"default\" or \"thesis\""
            )))
        }
    }
    let mut over = Map::new();
    if let Some(kw) = kwargs {
        for (k, v) in kw.iter() {
            let k: String = k.extract()?;
            let v = json(&k, &v)?;
            over.insert(k, v);
        }
    }
    let known = serde_json::to_value(&base).map_err(value_error)?;
    let known = known.as_object().cloned().unwrap_or_default();
    for (k, v) in &over {
        if !known.contains_key(k) {
            let alone = Value::Object(Map::from_iter([(k.clone(), v.clone())]));
            let e = serde_json::from_value::<Config>(alone)
                .err()
                .map_or_else(|| format!("unknown field `{k}`"), |e| e.to_string());
            return Err(value_error(e));
        }
    }
    // As the binary: `algorithm = "seq"` without `threads` runs one thread.
    let seq = over
        .get("algorithm")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Algorithm>().ok())
        == Some(Algorithm::Seq);
    if seq && !over.contains_key("threads") {
        base.threads = 1;
    }
    let cfg = base.overlay(&over).map_err(value_error)?;
    cfg.validate().map_err(value_error)?;
    Ok((cfg, over))
}

/// One keyword's value as JSON: `None`, `bool`, `int`, `float`, `str` (or `os.PathLike`), and
/// lists or tuples of them (`eps`). JSON has no NaN or ±∞: those are refused by name, except
/// `persistence = math.inf`, which is the word `"inf"`.
fn json(key: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(value_error(format!(
            "`{key}` = {v}: must be an integer in [-2^63, 2^64 - 1]"
        )));
    }
    if v.is_instance_of::<PyFloat>() {
        let x: f64 = v.extract()?;
        if key == "persistence" && x == f64::INFINITY {
            return Ok(Value::String("inf".into()));
        }
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| value_error(format!("`{key}` must be a finite number")));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Value::String(v.extract()?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        return v
            .try_iter()?
            .map(|x| json(key, &x?))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    // NumPy scalars and other numbers: as their float or int value.
    if let Ok(i) = v.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(x) = v.extract::<f64>() {
        return json(key, &PyFloat::new(v.py(), x).into_any());
    }
    let ty = v
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(PyTypeError::new_err(format!(
        "`{key}`: expected None, a bool, a number, a string or a list, not {ty}"
    )))
}
