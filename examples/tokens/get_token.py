import json, os, requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import Session

url = os.environ["TOKEN_URL"].rstrip("/") + "/tokens"
body = json.dumps({"connectionId": os.environ["CONNECTION_ID"], "region": "eu"})
request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
SigV4Auth(Session().get_credentials(), "lambda", os.environ["AWS_REGION"]).add_auth(request)
answer = requests.post(url, data=body, headers=dict(request.headers), timeout=10)
print(answer.status_code, json.dumps(answer.json()))
