//! String commands.

use crate::context::{CmdResult, Ctx};
use crate::errors;
use crate::table::{command, flags::*, keys, Command, Group};
use ferrocache_store::Value;

const G: Group = Group::String;

pub static COMMANDS: &[Command] = &[
    command("get", 2, READONLY | FAST, keys(1, 1, 1), G, "1.0.0", "Returns the string value of a key.", cmd_get),
    command("set", -3, WRITE | DENYOOM, keys(1, 1, 1), G, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", cmd_set),
];

fn cmd_get(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    let mut r = ferrocache_protocol::Encoder::new(ctx.out, ctx.session.proto);
    match locked.get(db, key) {
        None => r.null(),
        Some(e) => match e.value.as_str() {
            Some(s) => s.with_bytes(|b| r.bulk(b)),
            None => return Err(errors::WRONGTYPE.into()),
        },
    }
    Ok(())
}

fn cmd_set(ctx: &mut Ctx) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.arg(1));
    let value = Value::string(ctx.arg(2));
    let mut locked = ctx.ks().lock(db, key, ctx.now_ms);
    locked.insert(db, key, value, None);
    locked.dirty(1);
    drop(locked);
    ctx.ok()
}
