"""Homelab(key=...): the vault key reaches hl_ctx_options.db_key."""
import pytest

import homelab
from homelab import _lib

vault = pytest.mark.skipif(not _lib.has_vault(), reason="this libhomelab has no credential vault yet")


@pytest.mark.skipif(_lib.has_vault(), reason="this libhomelab has the vault")
def test_key_needs_a_library_with_the_vault(db_path):
    with pytest.raises(NotImplementedError, match="has no credential vault"):
        homelab.Homelab(db_path, key="x" * 44)
    with pytest.raises(NotImplementedError):
        homelab.generate_key()


@vault
def test_generated_key_opens_the_vault(db_path):
    key = homelab.generate_key()
    assert len(key) == 44 and key != homelab.generate_key()
    with homelab.Homelab(db_path, key=key) as hl:
        hl.load_demo()
        assert hl.list_vms()["count"] == 3


@vault
def test_bad_key_fails_in_the_constructor(db_path):
    with pytest.raises(homelab.InvalidArgumentError):
        homelab.Homelab(db_path, key="not a key")


@vault
def test_key_from_a_file(tmp_path, db_path):
    f = tmp_path / "vault.key"
    f.write_text(homelab.generate_key() + "\n")
    f.chmod(0o600)
    with homelab.Homelab(db_path, key=f"file:{f}") as hl:
        assert hl.list_hosts()["count"] == 0


@vault
def test_separate_audit_database(tmp_path, db_path, monkeypatch):
    monkeypatch.delenv("HOMELAB_DB_KEY", raising=False)
    if "get_credentials" not in dir(homelab.Homelab):
        pytest.skip("homelab_get_credentials is not in the table yet")
    with homelab.Homelab(db_path, audit_db_path=str(tmp_path / "audit.db")) as hl:
        hl.load_demo()
        with pytest.raises(homelab.VaultLockedError):
            hl.get_credentials(target="vm:whisper")  # a refused read is audited
    assert (tmp_path / "audit.db").exists()


@vault
def test_locked_vault_credentials(db_path, monkeypatch):
    monkeypatch.delenv("HOMELAB_DB_KEY", raising=False)
    if "get_credentials" not in dir(homelab.Homelab):
        pytest.skip("homelab_get_credentials is not in the table yet")
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
        with pytest.raises(homelab.VaultLockedError, match="^vault locked"):
            hl.get_credentials(target="vm:whisper")
    with homelab.Homelab(db_path, key=homelab.generate_key()) as hl:
        with pytest.raises(homelab.NotFoundError):
            hl.get_credentials(target="vm:whisper")
