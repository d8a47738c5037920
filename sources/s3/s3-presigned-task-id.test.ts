import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import test from 'ava';
import { filterUrl, taskId } from '../../core/index.js';

test('two differently signed presigned GET URLs of one object share one task id', async (t) => {
  const make = (accessKeyId: string, secretAccessKey: string, region: string) => new S3Client({
    endpoint: 'http://127.0.0.1:9000', region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
  });
  const first = make('AKIAFIRST', 'first-secret', 'us-east-1');
  const second = make('AKIASECOND', 'second-secret', 'us-east-1');
  t.teardown(() => { first.destroy(); second.destroy(); });
  const cmd = () => new GetObjectCommand({ Bucket: 'models', Key: 'llm/weights-00001.safetensors' });
  const a = await getSignedUrl(first, cmd(), { expiresIn: 600 });
  const b = await getSignedUrl(second, cmd(), { expiresIn: 3600 });
  t.not(a, b);
  t.regex(a, /X-Amz-Signature=/);
  const kept = filterUrl(a);
  t.true(kept.startsWith('http://127.0.0.1:9000/models/llm/weights-00001.safetensors'), kept);
  t.notRegex(kept, /X-Amz-(Signature|Credential|Date|Expires|SignedHeaders|Algorithm)=/);
  t.is(kept, filterUrl(b));
  t.is(taskId({ url: a }), taskId({ url: b }));
  const other = await getSignedUrl(first, new GetObjectCommand({ Bucket: 'models', Key: 'llm/weights-00002.safetensors' }), { expiresIn: 600 });
  t.not(taskId({ url: other }), taskId({ url: a }), 'another object is another task');
});
