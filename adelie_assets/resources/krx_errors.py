"""What can go wrong with KRX, as exceptions whose messages say what to check."""


class KrxError(Exception):
    """KRX gave no usable data. The message says what happened and what to check."""


class KrxConfigError(KrxError):
    """The KRX resource is configured wrongly (e.g. KRX_ID without KRX_PW)."""


class KrxLoginError(KrxError):
    """KRX refused the login or answered LOGOUT."""


class KrxTransientError(KrxError):
    """A 5xx, a timeout or a dropped connection: worth a bounded retry."""


class KrxDataError(KrxError):
    """KRX answered, but with data we cannot read or must not store: the message names the ticker,
    the field and the value. Retrying the same day gives the same answer."""


class KrxClosedDayError(KrxError):
    """KRX answered a day the calendar calls a trading day without a price: a closure missing from the
    calendar, or a day KRX has not published yet. Another day's answer may be fine."""
