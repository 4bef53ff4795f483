"""config.py handling: defaults, derived values and clear errors."""

from pico_bell.settings import ConfigError, Settings

from .support import raises


class ConfigModule:
    """Stands in for a config.py module."""

    WIFI_SSID = "cafe"
    WIFI_PASSWORD = "secret"
    TOPIC = "bistro/bell"
    lowercase_helper = 1


def expect_error(values, words):
    err = raises(ConfigError, Settings, values)
    assert words in str(err), str(err)


def test_defaults_match_the_tutorial():
    settings = Settings({})
    assert settings.BUTTON_PINS == (16, 17, 18, 19)
    assert settings.ACTIVE_LOW is False
    assert settings.BROKER == "broker.hivemq.com"
    assert settings.PORT == 1883
    assert settings.TOPIC == "SunFounder MQTT Test"
    assert settings.STATUS_TOPIC == "SunFounder MQTT Test/status"
    assert settings.QOS == 1
    assert settings.LEGACY is False


def test_tls_changes_the_default_port():
    assert Settings({"TLS": True}).PORT == 8883
    assert Settings({"TLS": True, "PORT": 8884}).PORT == 8884


def test_from_module_reads_upper_case_names_only():
    settings = Settings.from_module(ConfigModule)
    assert settings.WIFI_SSID == "cafe"
    assert settings.STATUS_TOPIC == "bistro/bell/status"


def test_misspelt_setting_is_an_error():
    class Misspelt:
        BUTTONS_PINS = (1, 2)

    err = raises(ConfigError, Settings.from_module, Misspelt)
    assert "BUTTONS_PINS" in str(err)


def test_bad_values_say_what_is_wrong():
    expect_error({"QOS": 2}, "QOS")
    expect_error({"TOPIC": "a/#"}, "+ or #")
    expect_error({"BUTTON_PINS": ()}, "BUTTON_PINS")
    expect_error({"BUTTON_PINS": (16, 16)}, "duplicates")
    expect_error({"BUTTON_PINS": (16, 25)}, "GP25")  # The Wi-Fi chip's.
    expect_error({"BUTTON_PINS": (16, 40)}, "GP40")
    expect_error({"BUTTON_PINS": ("16",)}, "GP16")
    expect_error({"QUEUE_SIZE": 1000}, "QUEUE_SIZE")
    expect_error({"KEEPALIVE_S": 120}, "KEEPALIVE_S")
    expect_error({"MQTT_PASSWORD": "x"}, "MQTT_USER")
    expect_error({"LONG_PRESS_MS": 40}, "LONG_PRESS_MS")
    expect_error({"WATCHDOG_MS": 9000}, "WATCHDOG_MS")
    expect_error({"PORT": 0}, "PORT")


def test_describe_shows_no_secret():
    settings = Settings(
        {"WIFI_PASSWORD": "wifi-secret", "MQTT_USER": "u", "MQTT_PASSWORD": "mqtt-secret"}
    )
    text = settings.describe()
    assert "secret" not in text
    assert "GP16, GP17, GP18, GP19" in text


def test_bell_key_is_checked_at_boot_without_showing_it():
    key = "0123456789abcdef" * 4
    settings = Settings({"BELL_KEY": key})
    assert settings.key == bytes.fromhex(key)
    assert "signed JSON" in settings.describe()
    assert key not in settings.describe()
    assert Settings({}).key is None
    assert "unsigned" in Settings({}).describe()
    short = key[:-1]
    err = raises(ConfigError, Settings, {"BELL_KEY": short})
    assert "64 hexadecimal characters" in str(err)
    assert "63" in str(err)
    assert short not in str(err)
    upper = key.upper()
    err = raises(ConfigError, Settings, {"BELL_KEY": upper})
    assert "lowercase" in str(err)
    assert upper not in str(err)
    expect_error({"BELL_KEY": "g" * 64}, "0-9")
    expect_error({"BELL_KEY": 1234}, "text in quotes")


def test_legacy_text_cannot_be_signed():
    expect_error({"LEGACY": True, "BELL_KEY": "ab" * 32}, "cannot be signed")
    assert Settings({"LEGACY": True}).LEGACY is True
