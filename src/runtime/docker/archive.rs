//! The tar archive that carries the connector's files (config, catalog, state) into a created
//! container, and the lookup of the image user's uid and gid in its `/etc/passwd`.
//!
//! Files travel inside the archive upload, never through a host path: that is what makes the tap
//! work with docker-in-docker and remote engines.
use std::io::Read;

/// Who owns the uploaded files inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

/// How the image user is known: resolved to numbers, or not (then the files are open to all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Owned(Owner),
    Anyone,
}

/// A tar with `dir/` and `dir/<name>` for each file, and the one executable if given (read and
/// run by its owner only when the owner is known); `dir` is relative to `/`.
pub fn build(
    dir: &str,
    files: &[(String, Vec<u8>)],
    executable: Option<(&str, &[u8])>,
    access: Access,
) -> std::io::Result<Vec<u8>> {
    let (owner, dir_mode, file_mode, exec_mode) = match access {
        Access::Owned(o) => (o, 0o700, 0o600, 0o500),
        Access::Anyone => (Owner { uid: 0, gid: 0 }, 0o777, 0o666, 0o555),
    };
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(dir_mode);
    header.set_uid(owner.uid);
    header.set_gid(owner.gid);
    header.set_mtime(mtime);
    header.set_size(0);
    builder.append_data(&mut header, format!("{dir}/"), std::io::empty())?;
    let executable = executable.map(|(name, bytes)| (name, bytes, exec_mode));
    let files = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice(), file_mode));
    for (name, bytes, mode) in files.chain(executable) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(mode);
        header.set_uid(owner.uid);
        header.set_gid(owner.gid);
        header.set_mtime(mtime);
        header.set_size(bytes.len() as u64);
        builder.append_data(&mut header, format!("{dir}/{name}"), bytes)?;
    }
    builder.into_inner()
}

/// The image's `User` (`""`, `uid`, `uid:gid`, `name`, `name:group`) as numbers when it is numeric.
pub fn numeric_user(user: &str) -> Option<Owner> {
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    if u.is_empty() {
        return Some(Owner { uid: 0, gid: 0 });
    }
    let uid = u.parse().ok()?;
    let gid = if g.is_empty() { uid } else { g.parse().ok()? };
    Some(Owner { uid, gid })
}

/// Resolves a user name with the image's `/etc/passwd`, given as the tar the engine returns.
pub fn user_from_passwd_tar(user: &str, tar_bytes: &[u8]) -> Option<Owner> {
    let (name, group) = user.split_once(':').unwrap_or((user, ""));
    let mut archive = tar::Archive::new(tar_bytes);
    let mut passwd = String::new();
    archive
        .entries()
        .ok()?
        .next()?
        .ok()?
        .read_to_string(&mut passwd)
        .ok()?;
    let (uid, primary_gid) = passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })?;
    let gid = if group.is_empty() {
        primary_gid
    } else {
        group.parse().unwrap_or(primary_gid)
    };
    Some(Owner { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_users() {
        assert_eq!(numeric_user(""), Some(Owner { uid: 0, gid: 0 }));
        assert_eq!(
            numeric_user("1000"),
            Some(Owner {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(numeric_user("1000:50"), Some(Owner { uid: 1000, gid: 50 }));
        assert_eq!(numeric_user("airbyte"), None);
    }

    #[test]
    fn archive_holds_the_dir_and_files_with_their_owner() {
        let tar_bytes = build(
            "config",
            &[("config.json".into(), b"{}".to_vec())],
            Some(("init", b"\x7fELF")),
            Access::Owned(Owner {
                uid: 1000,
                gid: 1000,
            }),
        )
        .unwrap();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                    e.header().uid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("config/".to_string(), 0o700, 1000),
                ("config/config.json".to_string(), 0o600, 1000),
                ("config/init".to_string(), 0o500, 1000)
            ]
        );
    }

    #[test]
    fn passwd_lookup() {
        let mut b = tar::Builder::new(Vec::new());
        let passwd = b"root:x:0:0:root:/root:/bin/sh\nairbyte:x:1000:1001::/airbyte:/bin/sh\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(passwd.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "passwd", &passwd[..]).unwrap();
        let t = b.into_inner().unwrap();
        assert_eq!(
            user_from_passwd_tar("airbyte", &t),
            Some(Owner {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(
            user_from_passwd_tar("airbyte:7", &t),
            Some(Owner { uid: 1000, gid: 7 })
        );
        assert_eq!(user_from_passwd_tar("nobody", &t), None);
    }
}
