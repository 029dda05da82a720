"""PromoLens: the Streamlit entry. A frame that routes; every page lives in pages/."""

import streamlit as st

from pages import shared

st.set_page_config(page_title="PromoLens", page_icon=":material/target:", layout="wide")

navigation = st.navigation(
    {
        "Your data": [
            st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        ],
    }
)
shared.sidebar()
navigation.run()
