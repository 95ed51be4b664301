"""Entity linking (xMEN's recipe): terminologies as stored aliases, a character 3-gram TF-IDF
and a dense candidate generator fused per concept, NIL below a threshold."""
