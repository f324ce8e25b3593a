//! `clout man` (`clout completions SHELL` is in `crate::complete`).

use anyhow::Result;
use clap::CommandFactory;

/// The man page of clout, or of the command named by `path` (`["task", "done"]`).
pub fn man(path: &[String]) -> Result<()> {
    let mut cmd = crate::Cli::command();
    cmd.build();
    let mut name = String::from("clout");
    for word in path {
        let Some(sub) = cmd.find_subcommand(word).cloned() else {
            let known: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
            anyhow::bail!("`{name}` has no command `{word}`; its commands are: {}", known.join(", "));
        };
        name = format!("{name}-{}", sub.get_name());
        cmd = sub.display_name(name.clone());
    }
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(())
}
