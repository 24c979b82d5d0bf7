"""The demo's code location: adelie_assets' definitions, refused unless KRX and OpenAI point at the
fakes on 127.0.0.1, and labelled as demo data.

The check runs at every load of the location: the playground's code server and every run worker
(each loads the location before its first step), in the process whose environment the resources read.
"""

import adelie_assets.definitions as production
from adelie_fakes import demo_mode

demo_mode.check_endpoints(require_demo=True)
# One Definitions object at module scope: Dagster refuses a module holding two.
defs = demo_mode.labelled(production.defs)
