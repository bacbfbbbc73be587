//! [`FileIdentity`]: which file a path names right now, and whether its bytes
//! may have changed, from one `stat`, so a poller can tell cheaply whether
//! the index file was replaced (by rename) or overwritten in place.

use std::fs::Metadata;
use std::time::SystemTime;

/// Device, inode, size, modification time and status-change time of a file.
///
/// A rename of a new file over the path changes the inode; the size and
/// times guard against the file system reusing the inode of a deleted index,
/// and reveal a write in place (`cp` over the file, a backup restore). The
/// status-change time (`ctime`) is the one no program can set back: `cp -p`
/// or `tar` restore the size and modification time of what they overwrite,
/// never its `ctime`.
#[derive(Clone, Copy, Debug)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
    /// `ctime` in seconds and nanoseconds.
    changed: (i64, i64),
    /// Names (hard links) the file had; not part of the identity.
    links: u64,
}

impl FileIdentity {
    pub(crate) fn of(meta: &Metadata) -> FileIdentity {
        #[cfg(unix)]
        let (device, inode, changed, links) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.dev(),
                meta.ino(),
                (meta.ctime(), meta.ctime_nsec()),
                meta.nlink(),
            )
        };
        // Elsewhere size and time alone must tell files apart.
        #[cfg(not(unix))]
        let (device, inode, changed, links) = (0, 0, (0, 0), 1);
        FileIdentity {
            device,
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
            changed,
            links,
        }
    }

    /// Whether the file described by `self` (the same open file, seen again
    /// later) may hold other bytes than when `opened` was taken.
    ///
    /// A file that has lost its last name was replaced by a rename (its
    /// `ctime` moved when it was unlinked) and can no longer be opened to be
    /// written: only its size and modification time count then.
    pub(crate) fn bytes_may_differ_from(&self, opened: &FileIdentity) -> bool {
        let same_data = (self.device, self.inode, self.len, self.modified)
            == (opened.device, opened.inode, opened.len, opened.modified);
        !same_data || (self.links > 0 && self.changed != opened.changed)
    }
}

impl PartialEq for FileIdentity {
    fn eq(&self, other: &FileIdentity) -> bool {
        let key = |f: &FileIdentity| (f.device, f.inode, f.len, f.modified, f.changed);
        key(self) == key(other)
    }
}

impl Eq for FileIdentity {}
