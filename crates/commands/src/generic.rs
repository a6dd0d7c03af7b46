//! Generic key commands.

use crate::context::{CmdResult, Ctx};
use crate::table::{command, flags::*, keys, Command, Group};

const G: Group = Group::Generic;

pub static COMMANDS: &[Command] = &[
    command(
        "del",
        -2,
        WRITE,
        keys(1, -1, 1),
        G,
        "1.0.0",
        "Deletes one or more keys.",
        cmd_del,
    ),
    command(
        "exists",
        -2,
        READONLY | FAST,
        keys(1, -1, 1),
        G,
        "3.0.3",
        "Determines whether one or more keys exist.",
        cmd_exists,
    ),
];

fn cmd_del(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let keys = &ctx.args[1..];
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let n = keys
        .iter()
        .filter(|k| locked.remove(db, k).is_some())
        .count();
    locked.dirty(n as u64);
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_exists(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let keys = &ctx.args[1..];
    let mut locked = ctx
        .ks()
        .lock_many(keys.iter().map(|k| (db, k.as_ref())), ctx.now_ms);
    let n = keys.iter().filter(|k| locked.contains(db, k)).count();
    drop(locked);
    ctx.reply().int(n as i64);
    Ok(())
}
