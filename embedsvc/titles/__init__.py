"""Job-title normalization (VacancySBERT): raw job-ad titles, optionally with the ad's skills,
mapped to the entries of a catalog (ESCO, O*NET, SOC/ISCO or one's own)."""
