"""Homelab(key=...): the vault key reaches hl_ctx_options.db_key."""
import pytest

import homelab
from homelab import _lib

def test_the_library_has_the_vault():
    """The vault is part of this project: a library without it fails here, it is never skipped."""
    assert _lib.has_vault(), f"{_lib.path()} has no credential vault (hl_vault_unlock is missing)"
    assert "get_credentials" in dir(homelab.Homelab), "homelab_get_credentials is missing from the tool table"
    key = homelab.generate_key()
    assert isinstance(key, str) and len(key) == 44


def test_generated_key_opens_the_vault(db_path):
    key = homelab.generate_key()
    assert len(key) == 44 and key != homelab.generate_key()
    with homelab.Homelab(db_path, key=key) as hl:
        hl.load_demo()
        assert hl.list_vms()["count"] == 3


def test_bad_key_fails_in_the_constructor(db_path):
    with pytest.raises(homelab.InvalidArgumentError):
        homelab.Homelab(db_path, key="not a key")


def test_key_from_a_file(tmp_path, db_path):
    f = tmp_path / "vault.key"
    f.write_text(homelab.generate_key() + "\n")
    f.chmod(0o600)
    with homelab.Homelab(db_path, key=f"file:{f}") as hl:
        assert hl.list_hosts()["count"] == 0


def test_separate_audit_database(tmp_path, db_path, monkeypatch):
    monkeypatch.delenv("HOMELAB_DB_KEY", raising=False)
    with homelab.Homelab(db_path, audit_db_path=str(tmp_path / "audit.db")) as hl:
        hl.load_demo()
        with pytest.raises(homelab.VaultLockedError):
            hl.get_credentials(target="vm:whisper")  # a refused read is audited
    assert (tmp_path / "audit.db").exists()


def test_locked_vault_credentials(db_path, monkeypatch):
    monkeypatch.delenv("HOMELAB_DB_KEY", raising=False)
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
        with pytest.raises(homelab.VaultLockedError, match="^vault locked"):
            hl.get_credentials(target="vm:whisper")
    with homelab.Homelab(db_path, key=homelab.generate_key()) as hl:
        with pytest.raises(homelab.NotFoundError):
            hl.get_credentials(target="vm:whisper")
