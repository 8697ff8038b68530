"""Reports of a study: comparison tables (Markdown, LaTeX), an HTML page with plots, exports."""
