"""Smart declarations (智能申报): data files, answer checks, the interview, checklist and pre-fill."""
