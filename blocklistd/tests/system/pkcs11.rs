use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{blocklist, s};

/// Where distributions install SoftHSM2's module.
const SOFTHSM_MODULES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
];
const PIN: &str = "246810";
const SO_PIN: &str = "13579111";

/// A SoftHSM2 token store of its own in a temp folder (its own config,
/// `directories.tokendir`), with one initialised token labelled `centre`.
struct SoftHsm {
    tmp: tempfile::TempDir,
    conf: PathBuf,
    module: PathBuf,
}

impl SoftHsm {
    /// `None`, with a message, where SoftHSM2 is not installed.
    fn new(test: &str) -> Option<SoftHsm> {
        let module = SOFTHSM_MODULES
            .iter()
            .map(PathBuf::from)
            .find(|m| m.exists());
        let util = Command::new("softhsm2-util").arg("--version").output();
        let (Some(module), Ok(_)) = (module, util) else {
            eprintln!("skipped {test}: SoftHSM2 is not installed (softhsm2-util and libsofthsm2.so; Debian: apt-get install softhsm2)");
            return None;
        };
        let tmp = tempfile::tempdir().unwrap();
        let tokens = tmp.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = tmp.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = SoftHsm { tmp, conf, module };
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &hsm.conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                "centre",
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "softhsm2-util: {out:?}");
        Some(hsm)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `blocklist` with the token store, the module and the PIN in its environment.
    fn blocklist(&self) -> Command {
        let mut cmd = blocklist();
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .env("BLOCKLIST_PKCS11_MODULE", &self.module)
            .env("BLOCKLIST_PKCS11_PIN", PIN)
            .current_dir(self.tmp.path());
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.blocklist().args(args).output().unwrap();
        assert!(out.status.success(), "blocklist {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, cmd: &mut Command) -> String {
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{cmd:?} succeeded: {}", text(&out));
        String::from_utf8(out.stderr).unwrap()
    }

    /// Writes the reports file and publishes it with `key`.
    fn publish(&self, dir: &Path, key: &str) -> String {
        let reports = self.path("reports.csv");
        std::fs::write(
            &reports,
            "kind,value,reason\nnumber,081-234-5678,scam_call\ndomain,scam.example,phishing\n",
        )
        .unwrap();
        self.ok(&[
            "publish",
            s(dir),
            "--key",
            key,
            "--agency",
            "th-aoc",
            s(&reports),
        ])
    }

    /// `blocklist verify` pinned to the first root: the core verifier's audit.
    fn verify(&self, dir: &Path, version: u64) {
        let root = std::fs::read_dir(dir.join("roots"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("1-"))
            .unwrap();
        let out = self.ok(&["verify", s(dir), "--root", s(&root)]);
        assert!(
            out.contains(&format!("OK: list th-test version {version}")),
            "{out}"
        );
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const ROOT: &str = "pkcs11:token=centre;object=root-a";
const PUBLISH: &str = "pkcs11:token=centre;object=publish-1";

#[test]
fn keys_made_in_the_token_init_and_publish_a_chain_that_verifies() {
    let Some(hsm) = SoftHsm::new("keys_made_in_the_token_init_and_publish_a_chain_that_verifies")
    else {
        return;
    };
    let out = hsm.ok(&["keygen", ROOT]);
    assert!(
        out.contains("secret key: pkcs11:token=centre;object=root-a (in the token: sensitive, not extractable)"),
        "{out}"
    );
    assert!(out.contains("public key: root-a.pub"), "{out}");
    let public = std::fs::read_to_string(hsm.path("root-a.pub")).unwrap();
    assert!(public.starts_with("blocklist-public-key-v1 "), "{public}");
    // The public file into a folder that does not exist yet.
    hsm.ok(&["keygen", PUBLISH, "--public", "keys/publish-1.pub"]);
    assert!(hsm.path("keys/publish-1.pub").is_file());

    let dir = hsm.path("pub");
    // The publish key named by its token object in one role, the written
    // public file would do as well: both must be the same key.
    hsm.ok(&[
        "init",
        s(&dir),
        "--list",
        "th-test",
        "--root-key",
        ROOT,
        "--publish-key",
        PUBLISH,
    ]);
    let out = hsm.publish(&dir, PUBLISH);
    assert!(out.contains("published version 1: 2 added"), "{out}");
    hsm.verify(&dir, 1);

    // The PIN from a pin-source file instead of the environment.
    let pin_file = hsm.path("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    std::fs::set_permissions(
        &pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let with_file = format!("{PUBLISH}?pin-source=file:{}", pin_file.display());
    let out = hsm.ok(&["refresh", s(&dir), "--key", &with_file]);
    assert!(out.contains("manifest serial 2"), "{out}");
    hsm.verify(&dir, 1);
}

#[test]
fn wrong_pin_missing_object_and_absent_token_are_errors_naming_them() {
    let Some(hsm) =
        SoftHsm::new("wrong_pin_missing_object_and_absent_token_are_errors_naming_them")
    else {
        return;
    };
    hsm.ok(&["keygen", ROOT]);
    let dir = hsm.path("pub");
    let init = |root: &str| {
        let mut cmd = hsm.blocklist();
        cmd.args([
            "init",
            s(&dir),
            "--list",
            "th-test",
            "--root-key",
            root,
            "--publish-key",
            "root-a.pub",
        ]);
        cmd
    };

    let err = hsm.fails(init(ROOT).env("BLOCKLIST_PKCS11_PIN", "000000"));
    assert!(
        err.contains("pkcs11:token=centre;object=root-a: login to token \"centre\" refused: CKR_PIN_INCORRECT"),
        "{err}"
    );
    assert!(!err.contains("000000"), "the PIN is never printed: {err}");

    let err = hsm.fails(&mut init("pkcs11:token=centre;object=root-b"));
    assert!(
        err.contains("no private key object \"root-b\" in token \"centre\""),
        "{err}"
    );

    let err = hsm.fails(&mut init("pkcs11:token=vault;object=root-a"));
    assert!(
        err.contains("pkcs11:token=vault;object=root-a: no token present matches")
            && err.contains("tokens present: \"centre\""),
        "{err}"
    );

    let err = hsm.fails(init(ROOT).env_remove("BLOCKLIST_PKCS11_PIN"));
    assert!(err.contains("no PIN"), "{err}");

    let err = hsm.fails(init(ROOT).env_remove("BLOCKLIST_PKCS11_MODULE"));
    assert!(err.contains("no PKCS#11 module"), "{err}");

    let pin_file = hsm.path("shared-pin");
    std::fs::write(&pin_file, PIN).unwrap();
    std::fs::set_permissions(
        &pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let err = hsm.fails(&mut init(&format!(
        "{ROOT}?pin-source=file:{}",
        pin_file.display()
    )));
    assert!(err.contains("mode 644: it must not be readable"), "{err}");

    let err = hsm.fails(&mut init(
        "pkcs11:token=centre;object=root-a?pin-value=123456",
    ));
    assert!(
        err.contains("pin-value is refused") && !err.contains("123456"),
        "{err}"
    );

    // keygen never replaces a key of the same label.
    let err = hsm.fails(
        hsm.blocklist()
            .args(["keygen", ROOT, "--public", "again.pub"]),
    );
    assert!(
        err.contains("holds a key object \"root-a\" already"),
        "{err}"
    );
    assert!(!dir.exists(), "nothing was created");
}

#[test]
fn root_key_in_the_token_and_publish_keys_in_files_rotate_and_verify() {
    let Some(hsm) =
        SoftHsm::new("root_key_in_the_token_and_publish_keys_in_files_rotate_and_verify")
    else {
        return;
    };
    hsm.ok(&["keygen", ROOT]);
    hsm.ok(&["keygen", s(&hsm.path("keys/publish"))]);
    let dir = hsm.path("pub");
    hsm.ok(&[
        "init",
        s(&dir),
        "--list",
        "th-test",
        "--root-key",
        ROOT,
        "--publish-key",
        "keys/publish.pub",
    ]);
    hsm.publish(&dir, "keys/publish.key");
    hsm.verify(&dir, 1);

    // The token root signs the agency registry as it signs roots.
    hsm.ok(&["keygen", s(&hsm.path("keys/th-aoc"))]);
    let out = hsm.ok(&[
        "agency",
        "add",
        s(&dir),
        "--id",
        "th-aoc",
        "--name",
        "AOC",
        "--kinds",
        "number",
        "--key",
        "keys/th-aoc.pub",
        "--sign-with",
        ROOT,
    ]);
    assert!(out.contains("wrote registries/1-"), "{out}");

    // The token root signs the next root, which moves publishing into the token.
    hsm.ok(&["keygen", PUBLISH]);
    hsm.ok(&[
        "rotate",
        s(&dir),
        "--sign-with",
        ROOT,
        "--add-publish-key",
        "publish-1.pub",
        "--remove-publish-key",
        "keys/publish.pub",
    ]);
    let err = hsm.fails(
        hsm.blocklist()
            .args(["refresh", s(&dir), "--key", "keys/publish.key"]),
    );
    assert!(
        err.contains("is not a publish key of trust root 2"),
        "{err}"
    );
    // The new publish key re-anchors the chain on a snapshot it signs.
    let out = hsm.ok(&["refresh", s(&dir), "--key", PUBLISH]);
    assert!(out.contains("manifest serial"), "{out}");
    hsm.verify(&dir, 2);
    let listed = hsm.ok(&["agency", "list", s(&dir)]);
    assert!(listed.contains("th-aoc \"AOC\": active"), "{listed}");
}

/// The token holds the private key as asked: asked directly through
/// PKCS#11 (in a child process, since SoftHSM2 reads its configuration from
/// the environment once per process), not through the code under test.
#[test]
fn a_generated_private_key_cannot_be_read_out_of_the_token() {
    let Some(hsm) = SoftHsm::new("a_generated_private_key_cannot_be_read_out_of_the_token") else {
        return;
    };
    hsm.ok(&["keygen", ROOT]);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "pkcs11::probe_private_key_protection",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env("PROBE_MODULE", &hsm.module)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(
            "probe: sensitive=true extractable=false never_extractable=true value=withheld"
        ),
        "{said}"
    );
}

/// Run by [`a_generated_private_key_cannot_be_read_out_of_the_token`] in a
/// child process with the token store in its environment.
#[test]
#[ignore = "a probe run by a_generated_private_key_cannot_be_read_out_of_the_token"]
fn probe_private_key_protection() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;

    let module = std::env::var_os("PROBE_MODULE").expect("PROBE_MODULE");
    let pkcs11 = Pkcs11::new(module).unwrap();
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = pkcs11.get_slots_with_initialized_token().unwrap()[0];
    let session = pkcs11.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&PIN.to_owned().into()))
        .unwrap();
    let private = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"root-a".to_vec()),
        ])
        .unwrap()[0];
    let flags = session
        .get_attributes(
            private,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap();
    let flag = |wanted: AttributeType| {
        flags.iter().find_map(|a| match (a, wanted) {
            (Attribute::Sensitive(v), AttributeType::Sensitive)
            | (Attribute::Extractable(v), AttributeType::Extractable)
            | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable) => Some(*v),
            _ => None,
        })
    };
    // The secret's value itself: the token must refuse to give it;
    // cryptoki leaves out an attribute the token marks unavailable.
    let value = match session.get_attributes(private, &[AttributeType::Value]) {
        Ok(found) if found.is_empty() => "withheld".to_owned(),
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::AttributeSensitive, _)) => {
            "withheld".to_owned()
        }
        Ok(found) => format!("readable ({} attribute(s))", found.len()),
        Err(other) => other.to_string(),
    };
    println!(
        "probe: sensitive={} extractable={} never_extractable={} value={value}",
        flag(AttributeType::Sensitive).unwrap(),
        flag(AttributeType::Extractable).unwrap(),
        flag(AttributeType::NeverExtractable).unwrap(),
    );
}
