"""PromoLens: the Streamlit entry. A frame that routes; every page lives in pages/.

Each page starts with ``shared.sidebar()`` (dataset and run pickers) rather than this file drawing
it: Streamlit's AppTest re-runs only the page script on later runs, so a sidebar drawn here would
vanish from page tests.
"""

import streamlit as st

from pages.shared import apply_language
from recsys.core.i18n import gettext as _

st.set_page_config(page_title="PromoLens", page_icon=":material/target:", layout="wide")
# Screens about 1280 px wide (many laptops): less empty space above and beside the page, so tables and
# charts keep their width; larger screens keep Streamlit's spacing.
st.html(
    "<style>@media (max-width: 1320px) {"
    " [data-testid=stMainBlockContainer] {padding: 2.5rem 1.5rem 3rem 1.5rem;} }</style>"
)

apply_language()  # the menu's titles speak the session's language (the page sets it again for its own run)
navigation = st.navigation(
    {
        _("Your data"): [
            st.Page("pages/data.py", title=_("Data"), icon=":material/database:", default=True),
        ],
        _("Model"): [
            st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:"),
            st.Page("pages/fairness.py", title=_("Fairness"), icon=":material/balance:"),
            st.Page("pages/recommendations.py", title=_("Recommendations"), icon=":material/recommend:"),
        ],
        _("Customers"): [
            st.Page("pages/segments.py", title=_("Segments"), icon=":material/groups:"),
        ],
        _("Campaigns"): [
            st.Page("pages/campaign.py", title=_("Campaign"), icon=":material/campaign:"),
            st.Page("pages/measure.py", title=_("Measure"), icon=":material/query_stats:"),
        ],
    }
)
navigation.run()
