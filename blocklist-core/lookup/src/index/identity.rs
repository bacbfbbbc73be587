//! [`FileIdentity`]: which file a path names right now, from one `stat`, so a
//! poller can tell cheaply whether the index file was replaced.

use std::fs::Metadata;
use std::time::SystemTime;

/// Device, inode, size and modification time of a file. A rename of a new
/// file over the path changes the inode; the size and time guard against the
/// file system reusing the inode of a deleted index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileIdentity {
    pub(crate) fn of(meta: &Metadata) -> FileIdentity {
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        // Elsewhere size and time alone must tell files apart.
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        FileIdentity {
            device,
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}
