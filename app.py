"""PromoLens: the Streamlit entry. A frame that routes; every page lives in pages/.

Each page starts with ``shared.sidebar()`` (dataset and run pickers) rather than this file drawing
it: Streamlit's AppTest re-runs only the page script on later runs, so a sidebar drawn here would
vanish from page tests.
"""

import streamlit as st

st.set_page_config(page_title="PromoLens", page_icon=":material/target:", layout="wide")
# Screens about 1280 px wide (many laptops): less empty space above and beside the page, so tables and
# charts keep their width; larger screens keep Streamlit's spacing.
st.html(
    "<style>@media (max-width: 1320px) {"
    " [data-testid=stMainBlockContainer] {padding: 2.5rem 1.5rem 3rem 1.5rem;} }</style>"
)

navigation = st.navigation(
    {
        "Your data": [
            st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        ],
        "Model": [
            st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
            st.Page("pages/fairness.py", title="Fairness", icon=":material/balance:"),
            st.Page("pages/recommendations.py", title="Recommendations", icon=":material/recommend:"),
        ],
        "Customers": [
            st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
        ],
        "Campaigns": [
            st.Page("pages/campaign.py", title="Campaign", icon=":material/campaign:"),
            st.Page("pages/measure.py", title="Measure", icon=":material/query_stats:"),
        ],
    }
)
navigation.run()
