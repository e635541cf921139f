//! Argo CD's health checks for the operator's kinds (`deploy/argocd/govcloud.io/<Kind>/health.lua`),
//! run the way Argo CD runs them: Lua 5.1 (Argo CD embeds gopher-lua, a Lua 5.1), the
//! object as the global `obj` (JSON nulls as nil), only the base, table, string and math
//! libraries, and the script's returned table read as `status` and `message`.

use anyhow::{Context, Result, anyhow};
use mlua::serde::{LuaSerdeExt, SerializeOptions};
use mlua::{Lua, LuaOptions, StdLib, Table};

use super::repo_root;

/// Argo CD's verdict: `(status, message)`.
pub type Health = (String, String);

/// The health script of `kind`, as committed.
pub fn script(kind: &str) -> Result<String> {
    let path = repo_root().join(format!("deploy/argocd/govcloud.io/{kind}/health.lua"));
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Runs `script` on `obj`.
pub fn run(script: &str, obj: &serde_json::Value) -> Result<Health> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )
    .map_err(|e| anyhow!("starting Lua: {e}"))?;
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let value = lua
        .to_value_with(obj, options)
        .map_err(|e| anyhow!("converting the object: {e}"))?;
    lua.globals()
        .set("obj", value)
        .map_err(|e| anyhow!("setting obj: {e}"))?;
    let hs: Table = lua
        .load(script)
        .set_name("health.lua")
        .eval()
        .map_err(|e| anyhow!("health.lua failed: {e}"))?;
    let status: String = hs.get("status").map_err(|e| anyhow!("hs.status: {e}"))?;
    let message: String = hs.get("message").map_err(|e| anyhow!("hs.message: {e}"))?;
    Ok((status, message))
}

/// The committed health check of `obj`'s kind, run on it.
pub fn health(obj: &serde_json::Value) -> Result<Health> {
    let kind = obj
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| anyhow!("an object without kind"))?;
    run(&script(kind)?, obj)
}
