"""The attention explorer: one HTML page, written by `python -m minitransformer.inspect --html`.

    page.py        the trace's numbers as the page's data; the page filled in and written
    page.html      the page: its sections, the legend, the places for the style, data and script
    explorer.css   its style
    explorer.js    what draws it: the head view (lines whose opacity is the attention weight),
                   the model view (every layer and head as a small map, captioned), the embedding

The page is self-contained: everything it shows travels inside the one file, so it opens from
disk on a machine with no network (tests/test_explorer_browser.py opens it in Chromium).
"""
