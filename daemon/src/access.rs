//! Who may connect to the Unix socket.
//!
//! Each connection's peer is identified with `SO_PEERCRED` (the uid and gid of
//! the process that connected, as the kernel saw them at `connect`). A peer is
//! accepted when
//!
//! - its uid is the daemon's own uid, or
//! - an `allowed_group` is configured and either the peer's gid from
//!   `SO_PEERCRED` is that group, or the group database lists that group among
//!   the peer uid's supplementary groups (`getgrouplist` for the uid's user
//!   name, which includes the primary group of its passwd entry). The second
//!   check reads the group database (`/etc/group`, or NSS),
//!   not the connecting process's own supplementary group list, so a user added
//!   to the group is accepted without logging in again.
//!
//! Everyone else is rejected and logged. root gets no exception: it is a
//! different uid like any other.

use std::ffi::{CStr, CString};
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};

/// A group whose members may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
}

/// The rule for peers on the Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    pub uid: u32,
    pub group: Option<Group>,
}

/// The policy, shared with the accept loop and replaced on SIGHUP.
pub type SharedPolicy = Arc<RwLock<PeerPolicy>>;

impl PeerPolicy {
    /// The daemon's own uid, plus the configured group (a name, or a number).
    pub fn new(uid: u32, allowed_group: Option<&str>) -> Result<PeerPolicy> {
        let group = allowed_group.map(resolve_group).transpose()?;
        Ok(PeerPolicy { uid, group })
    }

    /// Whether a peer with this uid and gid may connect; `groups_of` lists the
    /// supplementary groups of a uid (looked up only when needed).
    pub fn admits(&self, uid: u32, gid: u32, groups_of: impl FnOnce(u32) -> Vec<u32>) -> bool {
        if uid == self.uid {
            return true;
        }
        match &self.group {
            Some(g) => gid == g.gid || groups_of(uid).contains(&g.gid),
            None => false,
        }
    }

    /// Checks a new connection by its peer's credentials (read once, when
    /// it was accepted); logs and refuses the ones that may not connect.
    pub fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        if self.admits(uid, gid, supplementary_groups) {
            return true;
        }
        match &self.group {
            Some(g) => tracing::warn!(
                peer_uid = uid,
                peer_gid = gid,
                peer_pid = ?pid,
                allowed_group = %g.name,
                "rejected a connection from another user who is not in the allowed group"
            ),
            None => tracing::warn!(
                peer_uid = uid,
                peer_gid = gid,
                peer_pid = ?pid,
                "rejected a connection from another user (set allowed_group to let a group in)"
            ),
        }
        false
    }
}

/// Resolves a group name (or a number) to its gid.
pub fn resolve_group(name: &str) -> Result<Group> {
    let name = name.trim();
    match group_gid(name) {
        Ok(Some(gid)) => Ok(Group { name: name.to_string(), gid }),
        Ok(None) => match name.parse::<u32>() {
            Ok(gid) => Ok(Group { name: name.to_string(), gid }),
            Err(_) => Err(Error::Config(format!(
                "allowed_group {name:?} does not exist: create it (groupadd {name}) or fix allowed_group / --allowed-group"
            ))),
        },
        Err(e) => Err(Error::Config(format!("cannot look up the group {name:?}: {e}"))),
    }
}

/// The supplementary groups the group database gives the user with this uid
/// (empty when the uid has no user entry).
pub fn supplementary_groups(uid: u32) -> Vec<u32> {
    match user_entry(uid) {
        Ok(Some((name, gid))) => group_list(&name, gid).unwrap_or_else(|e| {
            tracing::warn!(uid, error = %e, "cannot read the groups of a peer's user");
            Vec::new()
        }),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!(uid, error = %e, "cannot look up a peer's user");
            Vec::new()
        }
    }
}

/// The largest buffer the lookups below grow to (a group with very many members).
const MAX_BUF: usize = 1 << 22;

fn initial_buf() -> Vec<libc::c_char> {
    vec![0; 4096]
}

/// `getgrnam_r`: the gid of a group name, `None` when there is no such group.
fn group_gid(name: &str) -> std::io::Result<Option<u32>> {
    let cname =
        CString::new(name).map_err(|_| std::io::Error::other("the group name contains a NUL byte"))?;
    let mut buf = initial_buf();
    loop {
        // SAFETY: `libc::group` is plain old data (integers and raw pointers), for which all zeroes is valid.
        #[allow(unsafe_code)]
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated, `grp` and `result`
        // are live locals, and `buf` is writable for exactly `buf.len()` bytes. On success
        // `result` is null or points to `grp`, whose strings point into `buf`; only `gr_gid`
        // (a plain integer) is read.
        #[allow(unsafe_code)]
        let rc =
            unsafe { libc::getgrnam_r(cname.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        return Ok((!result.is_null()).then_some(grp.gr_gid));
    }
}

/// `getpwuid_r`: the user name and primary gid of a uid, `None` when there is no such user.
fn user_entry(uid: u32) -> std::io::Result<Option<(CString, u32)>> {
    let mut buf = initial_buf();
    loop {
        // SAFETY: `libc::passwd` is plain old data (integers and raw pointers), for which all zeroes is valid.
        #[allow(unsafe_code)]
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: as for getgrnam_r above: valid locals and a buffer of its real length.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        if result.is_null() || pw.pw_name.is_null() {
            return Ok(None);
        }
        // SAFETY: on success `pw_name` is a NUL-terminated string inside `buf`, which is still alive;
        // it is copied before `buf` can change.
        #[allow(unsafe_code)]
        let name = unsafe { CStr::from_ptr(pw.pw_name) }.to_owned();
        return Ok(Some((name, pw.pw_gid)));
    }
}

/// `getgrouplist`: every group the database gives a user, its primary gid included.
fn group_list(user: &CStr, gid: u32) -> std::io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut n = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `user` is NUL-terminated, `groups` is writable for `n` entries, and `n` is a live local
        // that getgrouplist sets to the number of groups it found.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::getgrouplist(user.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        let found = usize::try_from(n).unwrap_or(0);
        if rc == -1 {
            // Too small: n now holds the number needed.
            if found <= groups.len() || found > 1 << 20 {
                return Err(std::io::Error::other("getgrouplist failed"));
            }
            groups.resize(found, 0);
            continue;
        }
        groups.truncate(found);
        return Ok(groups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_uid_or_group_members_only() {
        let none = PeerPolicy { uid: 1000, group: None };
        assert!(none.admits(1000, 1000, |_| unreachable!()));
        assert!(!none.admits(1001, 1000, |_| vec![1000]));
        assert!(!none.admits(0, 0, |_| vec![0]), "root is another user too");

        let g = PeerPolicy { uid: 1000, group: Some(Group { name: "clout".into(), gid: 990 }) };
        assert!(g.admits(1001, 990, |_| unreachable!()), "primary gid from SO_PEERCRED");
        assert!(g.admits(1001, 1001, |_| vec![1001, 990]), "supplementary group");
        assert!(!g.admits(1001, 1001, |_| vec![1001, 27]));
    }

    #[test]
    fn groups_resolve_by_name_and_number() {
        // Every Unix system has root (gid 0), and root's group list holds it.
        assert_eq!(resolve_group("root").expect("root").gid, 0);
        assert_eq!(resolve_group("4242").expect("number").gid, 4242);
        let e = resolve_group("no-such-group-clout").expect_err("unknown").to_string();
        assert!(e.contains("does not exist") && e.contains("groupadd"), "{e}");
        assert!(supplementary_groups(0).contains(&0));
        assert!(supplementary_groups(u32::MAX - 7).is_empty());
    }
}
