//! The README's list of supported commands is kept in step with the command
//! table: this test fails when a command is added without being listed, or
//! listed without existing, and prints the block to paste.

use ferrocache_commands::table::{all_commands, Group};

const START: &str = "<!-- commands:start -->";
const END: &str = "<!-- commands:end -->";

/// The README block the command table implies: one line per group, commands
/// sorted, container subcommands spelled `CONFIG GET`.
pub fn expected_block() -> String {
    let groups = [
        (Group::String, "Strings"),
        (Group::Bitmap, "Bitmaps"),
        (Group::Generic, "Keys"),
        (Group::List, "Lists"),
        (Group::Set, "Sets"),
        (Group::SortedSet, "Sorted sets"),
        (Group::Hash, "Hashes"),
        (Group::PubSub, "Pub/Sub"),
        (Group::Transactions, "Transactions"),
        (Group::Scripting, "Scripting"),
        (Group::Connection, "Connection"),
        (Group::Server, "Server"),
    ];
    let mut out = String::new();
    for (g, title) in groups {
        let mut names: Vec<String> = Vec::new();
        for c in all_commands().iter().filter(|c| c.group == g) {
            if c.subcommands.is_empty() {
                names.push(c.name.to_ascii_uppercase());
            } else {
                for s in c.subcommands {
                    names.push(format!("{} {}", c.name, s.name).to_ascii_uppercase());
                }
            }
        }
        if names.is_empty() {
            continue;
        }
        names.sort();
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("- **{title}**: {}\n", list.join(", ")));
    }
    out
}

#[test]
fn readme_lists_exactly_the_commands_in_the_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find(START)
        .expect("README has the commands start marker")
        + START.len();
    let end = readme
        .find(END)
        .expect("README has the commands end marker");
    let listed = readme[start..end].trim();
    let expected = expected_block();
    // `BLESS=1 cargo test readme` rewrites the block after a table change.
    if std::env::var_os("BLESS").is_some() && listed != expected.trim() {
        let updated = format!("{}\n{}{}", &readme[..start], expected, &readme[end..]);
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"), updated)
            .expect("README.md written");
        return;
    }
    assert_eq!(
        listed,
        expected.trim(),
        "README's command list is out of date (BLESS=1 rewrites it); replace the block between the markers with:\n{expected}"
    );
}
