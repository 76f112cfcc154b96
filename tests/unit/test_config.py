"""Settings: source priority, mode safety rules, one-line errors, and secrets that never leak."""

from __future__ import annotations

import os
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from tui_trader.config import (
    ApiFamily,
    ConfigError,
    Mode,
    Settings,
    load_settings,
    normalize_url,
)

KEY = "PKLEAKCHECKKEY0123456"
SECRET = "sEcReT-must-never-leak-9f8e7d6c5b4a"
FILE_KEY = "PKFILEKEYLEAKCHECK999"
FILE_SECRET = "file-secret-must-never-leak-0a1b2c"
PAPER = "https://paper-api.alpaca.markets"
LIVE = "https://api.alpaca.markets"
BROKER_SANDBOX = "https://broker-api.sandbox.alpaca.markets"
BROKER_LIVE = "https://broker-api.alpaca.markets"


@pytest.fixture(autouse=True)
def config_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide the real environment and home; return the default config file path."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for func, sub in (
        ("user_config_dir", "config"),
        ("user_data_dir", "data"),
        ("user_log_dir", "log"),
    ):
        monkeypatch.setattr(platformdirs, func, lambda *a, _d=tmp_path / sub, **k: str(_d))
    return tmp_path / "config" / "config.toml"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**overrides: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    return info.value


def assert_clean(err: ConfigError, *secrets: str) -> None:
    """One line, no pydantic dump, no secret anywhere a user could see it."""
    text = str(err)
    assert text.startswith("config error: ")
    assert "\n" not in text
    assert "validation error" not in text
    assert "Traceback" not in text
    assert "input_value" not in text
    assert err.__cause__ is None and err.__suppress_context__
    shown = "".join(traceback.format_exception(err))
    for secret in secrets:
        assert secret not in text
        assert secret not in shown
        assert secret not in err.setting + err.hint


# --- mode resolution ------------------------------------------------------------------------


def test_defaults_run_the_emulator(tmp_path: Path, config_path: Path) -> None:
    settings = load_settings()
    assert settings.mode is Mode.SIM
    assert settings.api is ApiFamily.TRADING
    assert settings.auth_scheme == "headers"
    assert settings.base_url is None and settings.data_url is None
    assert settings.key_id is None and settings.secret_key is None
    assert settings.config_file == config_path
    assert settings.data_dir == tmp_path / "data"
    assert settings.log_dir == tmp_path / "log"
    assert settings.sim.symbols == ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]
    assert settings.sim.starting_cash == Decimal("100000")
    assert settings.stream.streams == ["trades", "accounts", "nta"]
    assert settings.risk.warning_fraction == 0.8
    assert settings.policy.utility == "crra"
    assert settings.ui.refresh_hz == 10


@pytest.mark.usefixtures("keys")
def test_keys_mean_paper_with_paper_url() -> None:
    settings = load_settings()
    assert settings.mode is Mode.PAPER
    assert settings.base_url == PAPER
    assert settings.data_url == "https://data.alpaca.markets"
    assert settings.auth_scheme == "headers"
    assert settings.key_id is not None and settings.key_id.get_secret_value() == KEY
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == SECRET


@pytest.mark.usefixtures("keys")
def test_live_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().mode is Mode.PAPER
    live = load_settings(mode="live")
    assert live.mode is Mode.LIVE and live.base_url == LIVE
    monkeypatch.setenv("TUI_TRADER_MODE", "LIVE")
    assert load_settings().base_url == LIVE


def test_live_without_keys_is_refused() -> None:
    err = config_error(mode="live")
    assert err.setting == "mode"
    assert "APCA_API_KEY_ID" in str(err) and "APCA_API_SECRET_KEY" in str(err)
    assert_clean(err)


def test_paper_without_keys_names_the_variables() -> None:
    err = config_error(mode="paper")
    assert str(err).startswith(
        "config error: mode: paper trading needs APCA_API_KEY_ID and APCA_API_SECRET_KEY"
    )


@pytest.mark.usefixtures("keys")
def test_explicit_sim_ignores_keys_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", LIVE)
    monkeypatch.setenv("TUI_TRADER_MODE", "sim")
    settings = load_settings()
    assert settings.mode is Mode.SIM
    assert settings.key_id is None and settings.secret_key is None
    assert settings.base_url is None


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("url", [LIVE, BROKER_LIVE + "/v2/"])
@pytest.mark.parametrize("mode", [None, "paper"])
def test_live_host_without_live_mode_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, mode: str | None
) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", url)
    err = config_error(mode=mode, account_id="acct")
    assert err.setting == "base_url"
    assert "real money" in str(err) and "live" in err.hint
    assert_clean(err, KEY, SECRET)
    assert load_settings(mode="live", account_id="acct").mode is Mode.LIVE


def test_base_url_without_keys_is_paper_and_needs_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", "http://127.0.0.1:8080")
    err = config_error()
    assert err.setting == "mode" and "paper trading needs" in str(err)


# --- API family and URLs --------------------------------------------------------------------


@pytest.mark.usefixtures("keys")
def test_broker_inferred_from_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", BROKER_SANDBOX + "/")
    monkeypatch.setenv("TUI_TRADER_ACCOUNT_ID", "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415")
    settings = load_settings()
    assert settings.api is ApiFamily.BROKER
    assert settings.auth_scheme == "basic"
    assert settings.base_url == BROKER_SANDBOX
    assert settings.data_url == "https://data.sandbox.alpaca.markets"
    assert settings.account_id == "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415"


@pytest.mark.usefixtures("keys")
def test_broker_needs_account_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", BROKER_SANDBOX)
    err = config_error()
    assert err.setting == "account_id"
    assert "TUI_TRADER_ACCOUNT_ID" in err.hint
    assert_clean(err, KEY, SECRET)


@pytest.mark.usefixtures("keys")
def test_broker_default_urls_by_mode() -> None:
    paper = load_settings(api="broker", account_id="a")
    assert paper.base_url == BROKER_SANDBOX
    live = load_settings(api="broker", mode="live", account_id="a")
    assert live.base_url == BROKER_LIVE
    assert live.data_url == "https://data.alpaca.markets"


@pytest.mark.usefixtures("keys")
def test_api_contradicting_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", BROKER_SANDBOX)
    assert config_error(api="trading").setting == "api"


@pytest.mark.parametrize(
    "raw",
    [PAPER, PAPER + "/", PAPER + "/v2", PAPER + "/v2/", f"  {PAPER}/v2/ \n"],
)
def test_url_normalisation(raw: str) -> None:
    assert normalize_url(raw) == PAPER


@pytest.mark.usefixtures("keys")
def test_urls_normalised_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", "http://127.0.0.1:8765/v2/")
    monkeypatch.setenv("APCA_API_DATA_URL", "http://127.0.0.1:8765/")
    settings = load_settings()
    assert settings.base_url == "http://127.0.0.1:8765"
    assert settings.data_url == "http://127.0.0.1:8765"


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    "url", ["paper-api.alpaca.markets", "ftp://x.example", "https://", "https://h:notaport"]
)
def test_bad_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", url)
    err = config_error()
    assert err.setting == "base_url"
    assert "http:// or https:// URL with a host" in err.problem
    assert "APCA_API_BASE_URL" in err.hint
    assert_clean(err, KEY, SECRET)


@pytest.mark.usefixtures("keys")
def test_credentials_in_url_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_BASE_URL", f"https://{KEY}:{SECRET}@paper-api.alpaca.markets")
    err = config_error()
    assert err.setting == "base_url"
    assert_clean(err, KEY, SECRET)


# --- sources and priority ----------------------------------------------------------------


def test_toml_file_sections_and_nested_values(config_path: Path) -> None:
    write(
        config_path,
        """
mode = "sim"
data_dir = "~/desk"

[sim]
seed = 7
symbols = ["aapl", "btc/usd"]
starting_cash = 5000.5

[risk]
daily_loss_limit = 750
max_drawdown_pct = 12.5

[policy]
utility = "target"
target_equity = 150000

[ui]
theme = "desk-light"
""",
    )
    settings = load_settings()
    assert settings.sim.seed == 7
    assert settings.sim.symbols == ["AAPL", "BTC/USD"]
    assert settings.sim.starting_cash == Decimal("5000.5")
    assert settings.risk.daily_loss_limit == Decimal("750")
    assert settings.risk.max_drawdown_pct == 12.5
    assert settings.risk.max_orders_per_minute == 30  # untouched default in a given section
    assert settings.policy.target_equity == Decimal("150000")
    assert settings.ui.theme == "desk-light"
    assert settings.data_dir == Path.home() / "desk"


def test_env_beats_file_and_overrides_beat_env(
    monkeypatch: pytest.MonkeyPatch, config_path: Path
) -> None:
    write(config_path, "[risk]\ndaily_loss_limit = 100\nmax_reject_streak = 9\n")
    assert load_settings().risk.daily_loss_limit == 100
    monkeypatch.setenv("TUI_TRADER_RISK__DAILY_LOSS_LIMIT", "500")
    settings = load_settings()
    assert settings.risk.daily_loss_limit == 500
    assert settings.risk.max_reject_streak == 9  # the file still fills what env leaves out
    settings = load_settings(risk={"daily_loss_limit": 42}, ui={"refresh_hz": None})
    assert settings.risk.daily_loss_limit == 42
    assert settings.risk.max_reject_streak == 9
    assert settings.ui.refresh_hz == 10  # None means "not given"


def test_nested_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_TRADER_RISK__MAX_DRAWDOWN_PCT", "7.5")
    monkeypatch.setenv("TUI_TRADER_SIM__SYMBOLS", "spy, qqq")
    monkeypatch.setenv("TUI_TRADER_STREAM__STREAMS", "TRADES,nta")
    settings = load_settings()
    assert settings.risk.max_drawdown_pct == 7.5
    assert settings.sim.symbols == ["SPY", "QQQ"]
    assert settings.stream.streams == ["trades", "nta"]


def test_prefixed_names_beat_alpaca_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", "apca-key")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "apca-secret")
    monkeypatch.setenv("TUI_TRADER_KEY_ID", "own-key")
    settings = load_settings()
    assert settings.key_id is not None and settings.key_id.get_secret_value() == "own-key"


def test_config_file_from_argument_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    by_arg = write(tmp_path / "a.toml", "[sim]\nseed = 1\n")
    by_env = write(tmp_path / "b.toml", "[sim]\nseed = 2\n")
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(by_env))
    assert load_settings().sim.seed == 2
    settings = load_settings(by_arg)
    assert settings.sim.seed == 1 and settings.config_file == by_arg


def test_missing_default_file_is_fine_but_named_one_is_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load_settings()
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(missing)
    assert info.value.setting == str(missing) and "not found" in str(info.value)
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(missing))
    err = config_error()
    assert "not found" in str(err) and "TUI_TRADER_CONFIG" in err.hint


# --- errors -------------------------------------------------------------------------------


def test_bad_toml_names_file_and_line(config_path: Path) -> None:
    write(config_path, f'key_id = "{FILE_KEY}"\n[risk]\ndaily_loss_limit = = 3\n')
    err = config_error()
    assert str(err).startswith(f"config error: {config_path}: invalid TOML at line 3")
    assert_clean(err, FILE_KEY)


def test_bad_value_in_file_names_setting_and_file(config_path: Path) -> None:
    write(config_path, "[risk]\ndaily_loss_limit = -5\n")
    err = config_error()
    assert err.setting == "risk.daily_loss_limit"
    assert str(err) == (
        "config error: risk.daily_loss_limit: Input should be greater than 0 "
        f"(set in {config_path})"
    )
    assert_clean(err)


def test_bad_value_in_env_names_setting_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_TRADER_SIM__PORT", "70000")
    err = config_error()
    assert err.setting == "sim.port"
    assert "TUI_TRADER_SIM__PORT" in err.hint
    assert_clean(err)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"risk": {"warning_fraction": 1.0}}, "risk.warning_fraction"),
        ({"policy": {"forgetting": 0.5}}, "policy.forgetting"),
        ({"policy": {"utility": "target"}}, "policy.target_equity"),
        ({"sim": {"speed": float("inf")}}, "sim.speed"),
        ({"sim": {"symbols": []}}, "sim.symbols"),
        ({"sim": {"symbols": ["AAPL", "aapl"]}}, "sim.symbols"),
        ({"stream": {"streams": ["trades", "quotes"]}}, "stream.streams[1]"),
        ({"stream": {"backoff_cap_seconds": 0.1}}, "stream.backoff_cap_seconds"),
        ({"ui": {"refresh_hz": 120}}, "ui.refresh_hz"),
    ],
)
def test_section_validation(overrides: dict[str, Any], setting: str) -> None:
    err = config_error(**overrides)
    assert err.setting == setting
    section, field = setting.split("[")[0].split(".")
    given = field in overrides[section]
    assert ("command line" if given else f"TUI_TRADER_{section.upper()}__") in err.hint
    assert_clean(err)


def test_unknown_key_in_file(config_path: Path) -> None:
    write(config_path, "[risk]\ndialy_loss_limit = 5\n")
    err = config_error()
    assert err.setting == "risk.dialy_loss_limit"
    assert "unknown setting" in err.problem and "daily_loss_limit" in err.problem
    write(config_path, "moed = 'paper'\n")
    assert config_error().setting == "moed"


def test_unknown_env_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_TRADER_RISK_DAILY_LOSS_LIMIT", "5")
    err = config_error()
    assert err.setting == "TUI_TRADER_RISK_DAILY_LOSS_LIMIT"
    assert "TUI_TRADER_RISK__DAILY_LOSS_LIMIT" in err.hint
    monkeypatch.delenv("TUI_TRADER_RISK_DAILY_LOSS_LIMIT")
    monkeypatch.setenv("TUI_TRADER_RISK__NOPE", "5")
    assert config_error().setting == "risk.nope"


def test_undecodable_section_json_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_TRADER_RISK", "{not json")
    err = config_error()
    assert err.setting == "risk" and "TUI_TRADER_RISK" in err.hint
    assert_clean(err)


def test_config_file_cannot_be_chosen_by_its_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_TRADER_CONFIG_FILE", "/elsewhere.toml")
    err = config_error()
    assert err.setting == "TUI_TRADER_CONFIG_FILE" and "TUI_TRADER_CONFIG" in err.hint


def test_unknown_override() -> None:
    assert config_error(colour="red").setting == "colour"


def test_key_without_secret_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    err = config_error()
    assert err.setting == "secret_key"
    assert "APCA_API_SECRET_KEY" in err.problem
    assert_clean(err, KEY)


def test_secret_without_key_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    err = config_error(mode="live")
    assert err.setting == "key_id" and "APCA_API_KEY_ID" in err.problem
    assert_clean(err, SECRET)


# --- secrets ------------------------------------------------------------------------------


@pytest.mark.usefixtures("keys")
def test_env_secrets_stay_hidden_in_settings() -> None:
    settings = load_settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in text and SECRET not in text


def test_file_secrets_stay_hidden_in_settings(config_path: Path) -> None:
    write(config_path, f'key_id = "{FILE_KEY}"\nsecret_key = "{FILE_SECRET}"\n')
    settings = load_settings()
    assert settings.mode is Mode.PAPER
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert FILE_KEY not in text and FILE_SECRET not in text


@pytest.mark.usefixtures("keys")
def test_secrets_absent_when_another_field_fails(
    monkeypatch: pytest.MonkeyPatch, config_path: Path
) -> None:
    write(config_path, f'secret_key = "{FILE_SECRET}"\n[sim]\nport = -1\n')
    monkeypatch.setenv("TUI_TRADER_RISK__MAX_ORDERS_PER_MINUTE", "lots")
    err = config_error()
    assert err.setting == "sim.port"
    assert "risk.max_orders_per_minute" in err.hint
    assert_clean(err, KEY, SECRET, FILE_SECRET)


def test_secrets_absent_when_the_key_itself_is_invalid(config_path: Path) -> None:
    write(config_path, f'key_id = "{FILE_KEY}"\n')
    assert_clean(config_error(), FILE_KEY)
    write(config_path, f'key_id = "{FILE_KEY}"\nsecret_key = ["{FILE_SECRET}"]\n')
    err = config_error()
    assert err.setting == "secret_key"
    assert_clean(err, FILE_KEY, FILE_SECRET)


def test_settings_built_directly_hide_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    with pytest.raises(ValueError) as info:
        Settings()
    assert KEY not in str(info.value)
