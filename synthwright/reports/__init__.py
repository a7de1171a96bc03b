"""After-run analysis: the report, its sections and plots, TSTR evaluation on real data, comparisons."""
