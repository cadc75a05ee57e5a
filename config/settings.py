"""Tapbuy settings, driven by the environment.

No variables set gives the embedded default: SQLite, the in-memory channel layer, the
local-memory cache, Celery over kombu's filesystem transport, DEBUG on. DATABASE_URL and
REDIS_URL switch to PostgreSQL and Redis. With DEBUG=0 the settings refuse to start
without SECRET_KEY and ALLOWED_HOSTS. Every variable is in the README's table.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("TAPBUY_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# The embedded default's secrets: public, so refused with DEBUG=0. Every other secret (the
# database's and Redis's passwords in their URLs, e-mail's) comes from the environment.
EMBEDDED_SECRET_KEY = "tapbuy-embedded-default-not-secret"  # noqa: S105
EMBEDDED_WEBHOOK_SECRET = "whsec_tapbuy_embedded_default_not_secret"  # noqa: S105

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default=EMBEDDED_SECRET_KEY)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    # Production must say who it is: a forgotten SECRET_KEY or host list is a loud error,
    # not a silently insecure default.
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50 or SECRET_KEY == EMBEDDED_SECRET_KEY:
        raise ImproperlyConfigured("DEBUG=0 needs SECRET_KEY (at least 50 characters).")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = "Tapbuy"
SITE_ID = 1

INSTALLED_APPS = [
    # daphne first so that runserver serves ASGI (HTTP and WebSockets).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "outbox",
    "accounts",
    "payments",
    "shops",
    "streams",
    "orders",
    "gifting",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.BusyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.notifications",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# SQLite by default. IMMEDIATE transactions take the write lock at BEGIN, so two writers
# wait for each other (up to the timeout) instead of failing with "database is locked"
# when one of them upgrades a read transaction to a write.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Under ASGI every request in flight runs in a thread of its own with a connection of
    # its own: a crowd would open one per request, and PostgreSQL refuses them past
    # max_connections. A pool per process bounds them; requests beyond it wait for one.
    if DATABASE_POOL_MAX_SIZE := env.int("DATABASE_POOL_MAX_SIZE", default=0):
        if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
            raise ImproperlyConfigured("DATABASE_POOL_MAX_SIZE needs a PostgreSQL DATABASE_URL.")
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, DATABASE_POOL_MAX_SIZE),
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services draw their own transactions
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8's 5 s socket timeout races the layer's 5 s blocking read and
                # drops idle sockets; no socket timeout keeps them.
                # redis-py 8 also caps a pool at 100 connections and raises past it: when a
                # crowd leaves at once, group_discard calls failed and left dead channels
                # in the group (measured in bench/live_pin.py). Allow more.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 1000}],
                "prefix": env.str("CHANNEL_PREFIX", default="tapbuy"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="tapbuy"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
# With REDIS_URL, Redis is the broker. Without it, kombu's filesystem transport: the web
# process drops messages into a folder that the worker started by `make run` consumes, so
# background and scheduled work still runs with nothing but Python.
CELERY_FS_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task: an unacknowledged task is handed out again only
        # after this, and a still-running one would otherwise start a second copy.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_DIR / "queue"),
        "control_folder": str(CELERY_FS_DIR / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# The queue tasks go to and workers read by default: deployments sharing one broker keep
# apart by naming theirs.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Sends the tasks whose broker was unreachable when their transaction committed.
    "outbox-relay": {
        "task": "outbox.relay",
        "schedule": env.int("OUTBOX_RELAY_SECONDS", default=10),
    },
    "sessions-clear": {"task": "accounts.sessions_clear", "schedule": 60 * 60 * 6},
    "deals-sweep": {"task": "streams.deals_sweep", "schedule": 30},
    "orders-release-unpaid": {"task": "orders.release_unpaid", "schedule": 60},
    "gifting-release-unpaid": {"task": "gifting.release_unpaid", "schedule": 60},
    "gifting-payouts-sweep": {"task": "gifting.payouts_sweep", "schedule": 5 * 60},
    "gifting-settle-earnings": {
        "task": "gifting.settle_earnings",
        "schedule": env.int("GIFTING_SETTLEMENT_PERIOD_SECONDS", default=60 * 60),
    },
    "payments-simulated-webhooks-sweep": {
        "task": "payments.simulated_webhooks_sweep",
        "schedule": 60,
    },
}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:me"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = "handle"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_USERNAME_MIN_LENGTH = 2
ACCOUNT_USERNAME_BLACKLIST = [
    "admin",
    "api",
    "live",
    "seller",
    "studio",
    "settings",
    "accounts",
    "static",
    "media",
    "healthz",
    "hooks",
    "ws",
    "tapbuy",
    "staff",
    "support",
    "help",
]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Five wrong passwords for one account lock its log-in for five minutes; ten a minute
# from one address lock that address. Counted in the cache, so shared by every worker.
# allauth's syntax: <count>/<period>/<ip|key|user>, comma-separated.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("ACCOUNT_LOGIN_RATE", default="30/m/ip"),
    "login_failed": env.str("ACCOUNT_LOGIN_FAILED_RATE", default="10/m/ip,5/5m/key"),
    "signup": env.str("ACCOUNT_SIGNUP_RATE", default="20/m/ip"),
    "reset_password": env.str("ACCOUNT_PASSWORD_RESET_RATE", default="20/m/ip,5/m/key"),
}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "signup": "accounts.forms.HandleSignupForm",
    "login": "accounts.forms.HandleLoginForm",
}

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if not env.str("EMAIL_URL", default="")
    else "django.core.mail.backends.smtp.EmailBackend",
)
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tapbuy <noreply@tapbuy.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing login a 401, not a 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 24,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_ANON_RATE", default="120/min"),
        "user": env.str("API_USER_RATE", default="600/min"),
        "login": env.str("API_LOGIN_RATE", default="5/min"),
        "checkout": env.str("API_CHECKOUT_RATE", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tapbuy API",
    "DESCRIPTION": "Live shopping in the feed: catalog, lives, checkout, gifting.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ShopStatusEnum": "shops.models.Shop.Status",
        "ProductStatusEnum": "shops.models.Product.Status",
        "ProductSellerStatusEnum": "shops.models.Product.SELLER_STATUSES",
        "ImageStateEnum": "shops.models.ProductImage.State",
        "StreamStatusEnum": "streams.models.Stream.Status",
        "OrderStatusEnum": "orders.models.Order.Status",
        "PaymentStateEnum": "orders.models.Order.PaymentState",
        "RefundStatusEnum": "orders.models.Refund.Status",
        "CoinPurchaseStatusEnum": "gifting.models.CoinPurchase.Status",
        "ReportStatusEnum": "moderation.models.Report.Status",
        "ReportTargetEnum": "moderation.models.Report.Target",
        "ReportReasonEnum": "moderation.models.Report.Reason",
    },
}

# --- Marketplace defaults -------------------------------------------------------------------
TAPBUY_CURRENCY = env.str("TAPBUY_CURRENCY", default="USD")
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)
PRODUCT_IMAGE_MAX_BYTES = 10 * 1024 * 1024
PRODUCT_IMAGE_MAX_PIXELS = 40_000_000
PRODUCT_IMAGE_WIDTHS = (1080, 480, 160)
PRODUCT_MAX_IMAGES = 12
# Remote images named in an imported catalog are fetched by a Celery task, never during a
# request. Private and loopback addresses are refused unless this is on (tests only).
REMOTE_IMAGE_ALLOW_PRIVATE = env.bool("REMOTE_IMAGE_ALLOW_PRIVATE", default=False)
REMOTE_IMAGE_TIMEOUT = 10

# --- Lives ----------------------------------------------------------------------------------
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Where hosts point their encoder (OBS, ffmpeg), with their stream key as the stream name.
RTMP_INGEST_URL = env.str("RTMP_INGEST_URL", default="rtmp://127.0.0.1:1935/live")
# Where the media server publishes HLS; a live started by the ingest hook plays
# <base>/<stream id>.m3u8 (the publish hook renames the stream to its id, and an nginx-rtmp
# push writes HLS under that name: docs/ingest.md).
HLS_PLAYBACK_BASE_URL = env.str("HLS_PLAYBACK_BASE_URL", default="")
# The ingest hooks carry no signature: they answer only the media server's addresses.
RTMP_HOOK_ALLOWED_NETS = env.list(
    "RTMP_HOOK_ALLOWED_NETS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
)

# Live fan-out (streams.fanout): frames queued for a viewer whose socket does not keep up
# before it is cut off (it reconnects and starts from a snapshot), and how long a process
# keeps its subscription to a live after its last viewer there left.
LIVE_FANOUT_BACKLOG_FRAMES = env.int("LIVE_FANOUT_BACKLOG_FRAMES", default=256)
# Chat lines per viewer over all their sockets and lives, hosts and staff apart (N/s, N/min,
# N/hour, N/day); each socket also allows at most 5 lines in 10 seconds.
LIVE_CHAT_RATE = env.str("LIVE_CHAT_RATE", default="30/min")
if not re.fullmatch(r"\d+/(s|sec|m|min|h|hour|d|day)", LIVE_CHAT_RATE):
    raise ImproperlyConfigured("LIVE_CHAT_RATE is like 30/min (N/s, N/min, N/hour, N/day).")
LIVE_FANOUT_UNSUBSCRIBE_AFTER = env.float("LIVE_FANOUT_UNSUBSCRIBE_AFTER", default=30.0)

# --- Payments ---------------------------------------------------------------------------------
PAYMENTS_PROVIDER = env.str("PAYMENTS_PROVIDER", default="simulated")
if DEBUG:
    PAYMENTS_WEBHOOK_SECRET = env.str("PAYMENTS_WEBHOOK_SECRET", default=EMBEDDED_WEBHOOK_SECRET)
else:
    PAYMENTS_WEBHOOK_SECRET = env.str("PAYMENTS_WEBHOOK_SECRET", default="")
    # The embedded default is long enough, and public: anyone could sign "payment
    # succeeded" webhooks with it.
    if len(PAYMENTS_WEBHOOK_SECRET) < 32 or PAYMENTS_WEBHOOK_SECRET == EMBEDDED_WEBHOOK_SECRET:
        raise ImproperlyConfigured(
            "DEBUG=0 needs PAYMENTS_WEBHOOK_SECRET (at least 32 characters, not the "
            "development default)."
        )
PAYMENTS_WEBHOOK_URL = env.str(
    "PAYMENTS_WEBHOOK_URL", default=f"{SITE_URL.rstrip('/')}/payments/webhooks/simulated/"
)
# The simulated "delayed" card's webhook arrives this many seconds after the payment.
SIMULATED_WEBHOOK_DELAY = env.float("SIMULATED_WEBHOOK_DELAY", default=3)

# --- Orders ---------------------------------------------------------------------------------
# The platform's commission on every order, in basis points (500 = 5 %).
ORDERS_PLATFORM_COMMISSION_BP = env.int("ORDERS_PLATFORM_COMMISSION_BP", default=500)
# An order not paid this long after it was placed is cancelled and its stock released.
ORDERS_PAYMENT_TIMEOUT_SECONDS = env.int("ORDERS_PAYMENT_TIMEOUT_SECONDS", default=15 * 60)
# Buyers claiming stock in the same process within this window share one transaction
# (orders/claims.py); 0 claims each at once.
ORDERS_CLAIM_BATCH_WINDOW = env.float("ORDERS_CLAIM_BATCH_WINDOW", default=0.002)
ORDERS_CLAIM_BATCHING = env.bool("ORDERS_CLAIM_BATCHING", default=True)

# --- Gifting --------------------------------------------------------------------------------
# The coin packs seed_demo puts on sale, as coins=price in TAPBUY_CURRENCY; staff manage the
# packs in the admin afterwards.
GIFTING_COIN_PACKS = env.list(
    "GIFTING_COIN_PACKS",
    default=["70=0.99", "350=4.99", "700=9.99", "1400=19.99", "3500=49.99", "7000=99.99"],
)
# A coin purchase whose payment has not completed this long after it was made (a delayed
# card whose webhook never came) fails and its pending payment is voided.
GIFTING_PAYMENT_TIMEOUT_SECONDS = env.int("GIFTING_PAYMENT_TIMEOUT_SECONDS", default=15 * 60)
# Coin purchases per buyer (API and pages), on top of the general API rate.
GIFTING_COINS_RATE = env.str("GIFTING_COINS_RATE", default="30/min")
# The host's share of a gift's value, in basis points (5000 = 50 %); the platform keeps the rest.
GIFTING_CREATOR_SHARE_BP = env.int("GIFTING_CREATOR_SHARE_BP", default=5000)
# The value of one coin in minor units of TAPBUY_CURRENCY, for the host's earnings.
GIFTING_COIN_VALUE_MINOR = env.int("GIFTING_COIN_VALUE_MINOR", default=1)
# The most of one gift a viewer can send in one tap.
GIFTING_MAX_QUANTITY = 9_999
# Reports per user (API and pages), on top of the general API rate.
MODERATION_REPORTS_RATE = env.str("MODERATION_REPORTS_RATE", default="30/hour")
# Gift sends per sender (API), on top of the general API rate.
GIFTING_GIFTS_RATE = env.str("GIFTING_GIFTS_RATE", default="300/min")
# Gifts sent at the same moment in one process are made in one transaction (gifting.sends):
# the first waits this long for others. GIFTING_SEND_BATCHING=0 sends each on its own.
GIFTING_SEND_BATCH_WINDOW = env.float("GIFTING_SEND_BATCH_WINDOW", default=0.002)
GIFTING_SEND_BATCHING = env.bool("GIFTING_SEND_BATCHING", default=True)
# Hosts' gift earnings settle into one statement per period of this length (UTC, from the
# Unix epoch), by the gifting.settle_earnings task every period.
GIFTING_SETTLEMENT_PERIOD_SECONDS = env.int("GIFTING_SETTLEMENT_PERIOD_SECONDS", default=60 * 60)
# Hosts settled per transaction.
GIFTING_SETTLEMENT_BATCH = env.int("GIFTING_SETTLEMENT_BATCH", default=500)
# The smallest payout a host may request, in minor units of TAPBUY_CURRENCY (1000 = 10.00).
GIFTING_PAYOUT_MINIMUM_MINOR = env.int("GIFTING_PAYOUT_MINIMUM_MINOR", default=1000)
if not 0 <= GIFTING_CREATOR_SHARE_BP <= 10_000:
    raise ImproperlyConfigured("GIFTING_CREATOR_SHARE_BP is basis points, 0 to 10000.")
if GIFTING_SETTLEMENT_PERIOD_SECONDS < 60 or GIFTING_SETTLEMENT_BATCH < 1:
    raise ImproperlyConfigured(
        "GIFTING_SETTLEMENT_PERIOD_SECONDS >= 60, GIFTING_SETTLEMENT_BATCH >= 1."
    )
if GIFTING_COIN_VALUE_MINOR < 1:
    raise ImproperlyConfigured("GIFTING_COIN_VALUE_MINOR is at least 1.")
if GIFTING_PAYOUT_MINIMUM_MINOR < 1:
    raise ImproperlyConfigured("GIFTING_PAYOUT_MINIMUM_MINOR is at least 1.")

# --- I18N, static, media --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
if DEBUG:
    # WhiteNoise looks for STATIC_ROOT at start-up even when it serves from the finders.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve static files straight from the apps and static/ while developing and testing;
# production serves the collected, hashed copies.
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# At most this many files in one upload request.
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# make serve runs without a proxy in front, so Django serves uploads there too.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=False)
AVATAR_MAX_BYTES = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------------------------
# Behind TLS in production these are on; HTTPS=0 turns them off for a plain-HTTP run of the
# production topology on one machine (`make serve`).
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
# The media server calls the ingest hooks over plain HTTP on a private address. A redirect
# to HTTPS would be a 3xx, which nginx-rtmp takes as "accepted": any key would get in.
SECURE_REDIRECT_EXEMPT = [r"^hooks/"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (config/csp.py): our own origin only. Live video served from
# elsewhere (a CDN, the media server) needs its origin here; HLS_PLAYBACK_BASE_URL's is
# added by itself.
CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
# The one page other sites may frame, a live's embed player (/live/<id>/embed/): any site
# (*), or only these origins, space- or comma-separated (https://shop.example.com).
EMBED_FRAME_ANCESTORS = env.str("EMBED_FRAME_ANCESTORS", default="*").replace(",", " ").split()
if any(";" in source for source in EMBED_FRAME_ANCESTORS):
    # A ; would end the directive and start another one of the operator's making.
    raise ImproperlyConfigured("EMBED_FRAME_ANCESTORS lists origins (https://a.example) or *.")
SESSION_COOKIE_HTTPONLY = True
# HSTS preload (W021) is a commitment to browsers' preload lists, opted into by
# SECURE_HSTS_PRELOAD=1, never by default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if not HTTPS:
    SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008", "security.W012", "security.W016"]

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
