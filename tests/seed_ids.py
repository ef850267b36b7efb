"""The seed articles by subject, for tests that expect a given article."""

AWS_GROWTH = "000_127e0ac6955dbf7b"  # AWS growth, 14 000 jobs cut, 3.8 GW added
AMAZON_100 = "001_1cddb5f53556681f"  # Amazon's 100 billion in 2025, DeepSeek, Microsoft/Google capex
AMAZON_PLAN = "002_3e161429ba25c3db"  # the same plan: AWS priority, Meta, Jevons paradox
OPENAI = "003_d80e80294214e752"  # OpenAI's 38-billion, seven-year AWS contract
TRAINIUM = "004_872041e8ade15181"  # Trainium chips against NVIDIA
